import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { invalid } from '../errors.js';
import { presentLedger } from './present.js';
import { afterCursor, idFilter, listLimit, queryParams, rangeCheck, sortOrder, timeRange } from './input.js';

export const ledgerQuerySchema = z
  .object({
    key_id: idFilter('only entries of this key'),
    job_id: idFilter("only entries of this job: its video id or reelay's internal job id"),
    ...timeRange,
    after: afterCursor,
    limit: listLimit,
    order: sortOrder,
  })
  .strict()
  .superRefine(rangeCheck);

/** /admin/ledger: the append-only money movements, newest first by default. */
export function ledgerRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const q = queryParams(c, ledgerQuerySchema);
    let afterSeq: number | undefined;
    if (q.after !== undefined) {
      afterSeq = await deps.store.ledgerSeqOf(q.after);
      if (afterSeq === undefined) throw invalid('after: no ledger entry with that id', 'after');
    }
    // A video id or an internal job id; an id that names no job simply matches nothing.
    const jobId = q.job_id === undefined ? undefined : ((await deps.store.findJobByAnyId(q.job_id))?.id ?? q.job_id);
    const rows = await deps.store.listAdminLedger({ keyId: q.key_id, jobId, from: q.from, to: q.to, afterSeq, order: q.order, limit: q.limit + 1 });
    return c.json({ data: rows.slice(0, q.limit).map((e) => presentLedger(e, e.videoId)), has_more: rows.length > q.limit });
  });

  return app;
}
