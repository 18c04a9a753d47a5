import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { invalid, notFound } from '../errors.js';
import { presentDelivery } from './present.js';
import { afterCursor, idFilter, listLimit, queryParams } from './input.js';

export const deliveriesQuerySchema = z
  .object({
    key_id: idFilter('only this key’s events'),
    status: z.enum(['pending', 'delivered', 'failed']).optional().meta({ description: 'pending (not yet delivered, retrying), delivered, or failed (given up)' }),
    after: afterCursor,
    limit: listLimit,
  })
  .strict();

/** /admin/webhooks: the events sent to clients and their delivery attempts (contract §12). */
export function webhooksRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/deliveries', async (c) => {
    const q = queryParams(c, deliveriesQuerySchema);
    if (q.after !== undefined && !(await deps.store.getWebhookEvent(q.after))) throw invalid('after: no webhook event with that id', 'after');
    const rows = await deps.store.listWebhookDeliveries({ keyId: q.key_id, status: q.status, afterId: q.after, limit: q.limit + 1 });
    return c.json({ data: rows.slice(0, q.limit).map(presentDelivery), has_more: rows.length > q.limit });
  });

  // Sends the event again now, whatever its status: same webhook-id and body, fresh timestamp.
  app.post('/events/:id/redeliver', async (c) => {
    const id = c.req.param('id');
    const now = deps.now();
    const event = await deps.store.requeueWebhookEvent(id, now, {
      who: { actor: c.get('adminActor') as string, requestId: c.get('state').requestId, now },
      entry: { action: 'webhook.redeliver', targetId: id, details: null },
    });
    if (!event) throw notFound('webhook event');
    deps.webhooks.wake();
    const delivery = (await deps.store.getWebhookDelivery(id)) ?? { event, attempts: [] };
    return c.json(presentDelivery(delivery), 202);
  });

  return app;
}
