import { Hono } from 'hono';
import type { AppEnv } from './http/context.js';
import type { Deps } from './deps.js';
import { requestContext } from './http/request-context.js';
import { renderError } from './http/error-handler.js';
import { ApiError, databaseUnavailable, errorBody } from './errors.js';
import { DATABASE_RETRY_AFTER_S } from './db/unavailable.js';
import { videoRoutes } from './videos/routes.js';
import { adminRoutes } from './admin/routes.js';
import { metricsRoute } from './metrics/route.js';
import { dashboardRoutes } from './admin/ui/index.js';
import { RememberingRouter } from './http/remembering-router.js';

/** A ping slower than this counts as a failure: a database that hangs is as good as down. */
export const HEALTH_PING_TIMEOUT_MS = 2_000;

/** null when the store answered in time, else why not. */
async function pingWithin(deps: Deps, ms: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const ping = deps.store.ping().then(
    () => null,
    (err: unknown) => (err as Error)?.message || String(err),
  );
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([ping, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the HTTP app from its dependencies. No I/O happens here. */
export function createApp(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ router: new RememberingRouter() });
  app.use('*', requestContext(deps));
  app.onError((err, c) => renderError(c, err, deps.logger));
  app.notFound((c) => renderError(c, new ApiError('not_found', 'Unknown route.'), deps.logger));

  // 200 while the database answers a trivial query within HEALTH_PING_TIMEOUT_MS; otherwise 503
  // database_unavailable, and 200 again as soon as it answers (the pool reconnects on demand).
  app.get('/healthz', async (c) => {
    const failure = await pingWithin(deps, HEALTH_PING_TIMEOUT_MS);
    if (failure === null) return c.json({ status: 'ok' });
    c.get('state').errorCode = 'database_unavailable';
    deps.logger.warn({ err: failure }, 'health check: database unavailable');
    const err = databaseUnavailable(DATABASE_RETRY_AFTER_S);
    return c.body(errorBody(err), 503, { 'content-type': 'application/json', ...err.headers });
  });

  app.get('/metrics', metricsRoute(deps));

  app.route('/v1', videoRoutes(deps));
  app.route('/admin/ui', dashboardRoutes(deps));
  app.route('/admin', adminRoutes(deps));
  return app;
}
