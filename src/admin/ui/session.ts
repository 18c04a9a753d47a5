import { randomBytes, createHash, timingSafeEqual, hkdfSync, createCipheriv, createDecipheriv } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { Store } from '../../store/store.js';

/**
 * Dashboard sessions: a random 32-byte token sent as an HttpOnly, SameSite=Strict cookie scoped to
 * /admin/ui. Each session has its own CSRF token that every form carries. Sessions live in the
 * database (admin_sessions), so a session opened on one instance is valid on every instance and
 * survives a restart; the database knows a session only by the SHA-256 of its token, and the one
 * secret a session may carry (a new key's, or a key's new webhook signing secret, shown once) is
 * encrypted with a key derived from the token, so the database alone can neither use a session nor
 * read that secret.
 */
export const SESSION_COOKIE = 'reelay_admin_session';
/** Double-submit cookie protecting the login form itself (there is no session yet). */
export const LOGIN_COOKIE = 'reelay_admin_login';
export const COOKIE_PATH = '/admin/ui';
export const SESSION_TTL_MS = 12 * 3600_000;
export const MAX_SESSIONS = 1000;

export type Flash = { kind: 'ok' | 'error'; text: string };
/**
 * A secret shown once on the next view of its key: the key's own (`kind` absent or 'key') or its
 * webhook signing secret ('webhook', when it is first issued or rotated).
 */
export type RevealOnce = { keyId: string; secret: string; kind?: 'key' | 'webhook' };

export interface Session {
  /** The cookie's token. Never stored: the database row's id is its SHA-256 (sessionId). */
  token: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
  /** Messages for the next page shown (post/redirect/get). */
  flash: Flash[];
  /** A key's plaintext secret (or its webhook secret), shown once on the next view of that key, then forgotten. */
  revealOnce: RevealOnce | null;
}

export const randomToken = (): string => randomBytes(32).toString('base64url');

/** Constant-time string comparison (digests, so neither length nor content leaks). */
export function sameToken(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** The database id of the session whose cookie token is `token`. */
export function sessionId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const SEAL_VERSION = 'v1';

/** The AES-256 key that seals a session's reveal-once secret: HKDF-SHA256 of the token. */
function sealKey(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', token, '', 'reelay admin session reveal_once', 32));
}

/** AES-256-GCM under a key derived from the token, bound to the session's id: "v1.<iv|tag|ciphertext>". */
export function sealRevealOnce(token: string, value: RevealOnce): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(token), iv);
  cipher.setAAD(Buffer.from(sessionId(token)));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return `${SEAL_VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

/** The sealed value, or null when it is not one this token sealed (tampered, or another session's). */
export function openRevealOnce(token: string, sealed: string): RevealOnce | null {
  const [version, payload] = sealed.split('.', 2);
  if (version !== SEAL_VERSION || !payload) return null;
  try {
    const raw = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealKey(token), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(sessionId(token)));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    const value = JSON.parse(text) as RevealOnce;
    if (typeof value?.keyId !== 'string' || typeof value.secret !== 'string') return null;
    return value.kind === 'webhook' ? { keyId: value.keyId, secret: value.secret, kind: 'webhook' } : { keyId: value.keyId, secret: value.secret };
  } catch {
    return null;
  }
}

function parseFlash(text: string): Flash[] {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? (value as Flash[]) : [];
  } catch {
    return [];
  }
}

const revealKey = (r: RevealOnce | null) => (r ? JSON.stringify([r.keyId, r.secret, r.kind ?? 'key']) : '');

/**
 * Sessions in the store. A request works on a Session object (pages push flash messages, set or
 * consume the reveal-once secret); `save` then writes back whatever changed, before the response
 * leaves, so the next request finds it on any instance.
 */
export class SessionStore {
  /** What each loaded session held when it was read, to write back only what changed. */
  private readonly loaded = new WeakMap<Session, { flash: string; reveal: string }>();

  constructor(
    private readonly store: Pick<Store, 'createAdminSession' | 'getAdminSession' | 'updateAdminSession' | 'deleteAdminSession'>,
    private readonly now: () => number,
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly maxSessions = MAX_SESSIONS,
  ) {}

  /** Opens a session; expired ones, and the oldest beyond MAX_SESSIONS, are dropped meanwhile. */
  async create(): Promise<Session> {
    const now = this.now();
    const session: Session = { token: randomToken(), csrf: randomToken(), createdAt: now, expiresAt: now + this.ttlMs, flash: [], revealOnce: null };
    await this.store.createAdminSession(
      { id: sessionId(session.token), csrf: session.csrf, createdAt: now, expiresAt: session.expiresAt, flash: '[]', revealOnce: null },
      this.maxSessions,
      now,
    );
    this.remember(session);
    return session;
  }

  /** The live session of this cookie token, or null. */
  async get(token: string | undefined): Promise<Session | null> {
    if (!token) return null;
    const row = await this.store.getAdminSession(sessionId(token), this.now());
    if (!row) return null;
    const session: Session = {
      token,
      csrf: row.csrf,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      flash: parseFlash(row.flash),
      revealOnce: row.revealOnce === null ? null : openRevealOnce(token, row.revealOnce),
    };
    this.remember(session);
    return session;
  }

  /** Writes back the flash messages and the reveal-once secret if this request changed them. */
  async save(session: Session): Promise<void> {
    const before = this.loaded.get(session);
    const flash = JSON.stringify(session.flash);
    const reveal = revealKey(session.revealOnce);
    const patch: { flash?: string; revealOnce?: string | null } = {};
    if (!before || before.flash !== flash) patch.flash = flash;
    if (!before || before.reveal !== reveal) patch.revealOnce = session.revealOnce ? sealRevealOnce(session.token, session.revealOnce) : null;
    if (patch.flash === undefined && patch.revealOnce === undefined) return;
    await this.store.updateAdminSession(sessionId(session.token), patch);
    this.loaded.set(session, { flash, reveal });
  }

  async destroy(token: string): Promise<void> {
    await this.store.deleteAdminSession(sessionId(token));
  }

  private remember(session: Session): void {
    this.loaded.set(session, { flash: JSON.stringify(session.flash), reveal: revealKey(session.revealOnce) });
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
  setCookie(c, SESSION_COOKIE, session.token, cookieOptions(c, Math.floor(ttlMs / 1000)));
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
