import { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import { buildOpenApiDocument } from './openapi.js';

/** GET /admin/openapi.json: the generated OpenAPI 3.1 description of /admin (built once). */
export function openapiRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let document: string | null = null;
  app.get('/openapi.json', (c) => {
    document ??= JSON.stringify(buildOpenApiDocument());
    return c.body(document, 200, { 'content-type': 'application/json; charset=utf-8' });
  });
  return app;
}
