import { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { presentPricing } from './present.js';

/** /admin/pricing: the effective price catalog (built-in defaults merged with PRICING_FILE). */
export function pricingRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', (c) => c.json({ data: presentPricing(deps.catalog), has_more: false }));
  return app;
}
