import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';

/**
 * Dashboard sessions: a random 32-byte token kept in memory (never in the database), sent as an
 * HttpOnly, SameSite=Strict cookie scoped to /admin/ui. Each session has its own CSRF token that
 * every form carries. A restart logs everyone out, which is fine for an operator console.
 */
export const SESSION_COOKIE = 'reelay_admin_session';
/** Double-submit cookie protecting the login form itself (there is no session yet). */
export const LOGIN_COOKIE = 'reelay_admin_login';
export const COOKIE_PATH = '/admin/ui';
export const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;

export type Flash = { kind: 'ok' | 'error'; text: string };

export interface Session {
  id: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
  /** Messages for the next page shown (post/redirect/get). */
  flash: Flash[];
  /** A key's plaintext secret, shown once on the next view of that key, then forgotten. */
  revealOnce: { keyId: string; secret: string } | null;
}

export const randomToken = (): string => randomBytes(32).toString('base64url');

/** Constant-time string comparison (digests, so neither length nor content leaks). */
export function sameToken(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  create(): Session {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) {
      // Evict the oldest (Map keeps insertion order).
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const now = this.now();
    const session: Session = { id: randomToken(), csrf: randomToken(), createdAt: now, expiresAt: now + this.ttlMs, flash: [], revealOnce: null };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** https as seen by the client: the request URL, or a TLS-terminating proxy's x-forwarded-proto. */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

function cookieOptions(c: Context, maxAgeSeconds: number) {
  return { path: COOKIE_PATH, httpOnly: true, sameSite: 'Strict' as const, secure: isHttps(c), maxAge: maxAgeSeconds };
}

export function setSessionCookie(c: Context, session: Session, ttlMs = SESSION_TTL_MS): void {
  setCookie(c, SESSION_COOKIE, session.id, cookieOptions(c, Math.floor(ttlMs / 1000)));
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: COOKIE_PATH, secure: isHttps(c) });
}

export function readSessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/** Issues the login form's double-submit token (cookie + hidden field). */
export function issueLoginToken(c: Context): string {
  const token = randomToken();
  setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, 600));
  return token;
}

export function checkLoginToken(c: Context, field: string | null): boolean {
  const cookie = getCookie(c, LOGIN_COOKIE);
  return !!cookie && !!field && sameToken(cookie, field);
}

export function clearLoginCookie(c: Context): void {
  deleteCookie(c, LOGIN_COOKIE, { path: COOKIE_PATH, secure: isHttps(c) });
}

/**
 * A state-changing request must come from this origin: a present Origin header must name this
 * host, and a browser's Sec-Fetch-Site, when sent, must be same-origin (or none: typed by the user).
 */
export function isSameOriginRequest(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" and other opaque origins
  }
  const expected = c.req.header('host') ?? new URL(c.req.url).host;
  return host.toLowerCase() === expected.toLowerCase();
}
