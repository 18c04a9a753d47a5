import { Hono } from 'hono';
import type { AppEnv } from './http/context.js';
import type { Deps } from './deps.js';
import { requestContext } from './http/request-context.js';
import { renderError } from './http/error-handler.js';
import { ApiError } from './errors.js';
import { videoRoutes } from './videos/routes.js';
import { adminRoutes } from './admin/routes.js';
import { metricsRoute } from './metrics/route.js';
import { dashboardRoutes } from './admin/ui/index.js';
import { RememberingRouter } from './http/remembering-router.js';

/** Builds the HTTP app from its dependencies. No I/O happens here. */
export function createApp(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ router: new RememberingRouter() });
  app.use('*', requestContext(deps));
  app.onError((err, c) => renderError(c, err, deps.logger));
  app.notFound((c) => renderError(c, new ApiError('not_found', 'Unknown route.'), deps.logger));

  app.get('/healthz', async (c) => {
    try {
      await deps.store.ping();
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'unavailable', detail: 'database unreachable' }, 503);
    }
  });

  app.get('/metrics', metricsRoute(deps));

  app.route('/v1', videoRoutes(deps));
  app.route('/admin/ui', dashboardRoutes(deps));
  app.route('/admin', adminRoutes(deps));
  return app;
}
