import type { Handler } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { bearerToken, sameSecret } from '../http/admin-auth.js';
import { PROMETHEUS_CONTENT_TYPE } from './index.js';

/**
 * `GET /metrics`: the Prometheus text exposition. With METRICS_TOKEN set it takes
 * `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time) and answers 401 otherwise;
 * without it, it is open.
 */
export function metricsRoute(deps: Deps): Handler<AppEnv> {
  const token = deps.config.metricsToken;
  return async (c) => {
    if (token !== undefined) {
      const given = bearerToken(c.req.header('authorization'));
      if (given === null || !sameSecret(given, token)) throw new ApiError('unauthorized', 'Missing or invalid metrics token.');
    }
    const text = await deps.metrics.render();
    return c.body(text, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
  };
}
