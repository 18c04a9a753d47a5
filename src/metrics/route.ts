import type { Handler } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { PROMETHEUS_CONTENT_TYPE } from './index.js';

/** `GET /metrics`: the Prometheus text exposition (unauthenticated; see src/metrics/index.ts). */
export function metricsRoute(deps: Deps): Handler<AppEnv> {
  return (c) => c.body(deps.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
}
