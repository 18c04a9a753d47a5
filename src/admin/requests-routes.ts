import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { presentRequest } from './present.js';
import { idFilter, listLimit, queryParams, rangeCheck, timeRange } from './input.js';

export const requestsQuerySchema = z
  .object({
    request_id: idFilter("reelay's, the client's or the upstream's request id"),
    video_id: idFilter('only requests about this video id'),
    key_id: idFilter('only requests made with this key'),
    ...timeRange,
    after: z
      .string()
      .regex(/^\d{1,15}$/, 'must be the id of a request-log row')
      .optional()
      .meta({ description: 'cursor: the `id` of the last row of the previous page' }),
    limit: listLimit,
  })
  .strict()
  .superRefine(rangeCheck);

/** /admin/requests: the request log, newest first. */
export function requestsRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const q = queryParams(c, requestsQuerySchema);
    await deps.requestLog.flush(); // rows are written in batches; include the ones still queued
    const rows = await deps.store.searchRequestLog({
      requestId: q.request_id,
      videoId: q.video_id,
      keyId: q.key_id,
      from: q.from,
      to: q.to,
      beforeSeq: q.after === undefined ? undefined : Number(q.after),
      limit: q.limit + 1,
    });
    return c.json({ data: rows.slice(0, q.limit).map(presentRequest), has_more: rows.length > q.limit });
  });

  return app;
}
