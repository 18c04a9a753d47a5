import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';
import type { Deps } from '../deps.js';
import { authenticateKey } from '../keys/service.js';
import { ApiError } from '../errors.js';
import { requestHeader } from './client-headers.js';

/**
 * /v1 authentication with a reelay key, then the key's requests-per-minute limit: one database
 * statement, counted on every instance together, and only for keys that have a limit.
 */
export function keyAuth(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = await authenticateKey(deps.store, requestHeader(c, 'authorization'), deps.now());
    c.get('state').key = key;
    if (key.rpmLimit !== null) {
      const wait = await deps.rateLimiter.take(key.id, key.rpmLimit);
      if (wait > 0) {
        throw new ApiError('rate_limit_exceeded', `Rate limit of ${key.rpmLimit} requests per minute reached for this key.`, null, {
          'retry-after': String(wait),
        });
      }
    }
    await next();
  };
}
