import { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { adminAuth } from '../http/admin-auth.js';
import { keysRoutes } from './keys-routes.js';

/** The /admin API (admin token only). */
export function adminRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', adminAuth(deps));
  app.route('/keys', keysRoutes(deps));
  return app;
}
