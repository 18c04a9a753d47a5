import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AppEnv } from './context.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { looksLikeReelayKey } from '../keys/secret.js';
import { clientAddress } from './auth-throttle.js';

export function sameSecret(a: string, b: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** Extracts a bearer token from the Authorization header. */
export function bearerToken(header: string | undefined): string | null {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m ? m[1]! : null;
}

export function isAdminToken(deps: Deps, token: string | null): boolean {
  return !!deps.config.adminToken && token !== null && sameSecret(token, deps.config.adminToken);
}

/**
 * /admin requires the admin token. When none is configured the admin API is off (403). A reelay
 * key is refused with 403; a missing or wrong token gets 401. An address that sent too many wrong
 * tokens gets 429 with retry-after (see AuthThrottle, shared with the dashboard's login).
 */
export function adminAuth(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // The dashboard (/admin/ui) authenticates with its own session cookie.
    if (c.req.path === '/admin/ui' || c.req.path.startsWith('/admin/ui/')) return next();
    if (!deps.config.adminToken) {
      throw new ApiError('forbidden', 'The admin API is disabled: set ADMIN_TOKEN to enable it.');
    }
    const address = clientAddress(c);
    const wait = await deps.authThrottle.retryAfterSeconds(address);
    if (wait > 0) {
      throw new ApiError('rate_limit_exceeded', 'Too many wrong admin tokens from this address; try again later.', null, { 'retry-after': String(wait) });
    }
    const token = bearerToken(c.req.header('authorization'));
    if (token !== null && looksLikeReelayKey(token)) {
      throw new ApiError('forbidden', 'reelay API keys cannot use the admin API; use the admin token.');
    }
    if (!isAdminToken(deps, token)) {
      // Only a presented token is a guess; a request without one (a probe, a typo'd script) is not.
      if (token !== null) await deps.authThrottle.fail(address);
      throw new ApiError('unauthorized', 'Missing or invalid admin token.');
    }
    c.set('adminActor', 'admin');
    c.get('state').adminAuthenticated = true;
    await next();
  };
}
