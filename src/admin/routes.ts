import { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { adminAuth } from '../http/admin-auth.js';
import { keysRoutes } from './keys-routes.js';
import { jobsRoutes } from './jobs-routes.js';
import { ledgerRoutes } from './ledger-routes.js';
import { requestsRoutes } from './requests-routes.js';
import { usageRoutes } from './usage-routes.js';
import { pricingRoutes } from './pricing-routes.js';
import { auditRoutes } from './audit-routes.js';
import { openapiRoutes } from './openapi-routes.js';
import { webhooksRoutes } from './webhooks-routes.js';
import { upstreamsRoutes } from './upstreams-routes.js';

/** The /admin API (admin token only). */
export function adminRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', adminAuth(deps));
  app.route('/keys', keysRoutes(deps));
  app.route('/jobs', jobsRoutes(deps));
  app.route('/ledger', ledgerRoutes(deps));
  app.route('/requests', requestsRoutes(deps));
  app.route('/usage', usageRoutes(deps));
  app.route('/pricing', pricingRoutes(deps));
  app.route('/audit', auditRoutes(deps));
  app.route('/webhooks', webhooksRoutes(deps));
  app.route('/upstreams', upstreamsRoutes(deps));
  app.route('/', openapiRoutes());
  return app;
}
