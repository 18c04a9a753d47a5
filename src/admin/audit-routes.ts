import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { invalid } from '../errors.js';
import { presentAudit } from './present.js';
import { afterCursor, idFilter, listLimit, queryParams, rangeCheck, timeRange } from './input.js';

export const auditQuerySchema = z
  .object({
    target_id: idFilter('only changes to this object (e.g. a key id)'),
    action: idFilter('only this action, e.g. key.create, key.update, key.revoke, key.credit, key.adjust'),
    ...timeRange,
    after: afterCursor,
    limit: listLimit,
  })
  .strict()
  .superRefine(rangeCheck);

/** /admin/audit: the audit trail of admin changes, newest first. */
export function auditRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const q = queryParams(c, auditQuerySchema);
    let beforeSeq: number | undefined;
    if (q.after !== undefined) {
      beforeSeq = await deps.store.auditSeqOf(q.after);
      if (beforeSeq === undefined) throw invalid('after: no audit entry with that id', 'after');
    }
    const rows = await deps.store.searchAudit({ targetId: q.target_id, action: q.action, from: q.from, to: q.to, beforeSeq, limit: q.limit + 1 });
    return c.json({ data: rows.slice(0, q.limit).map(presentAudit), has_more: rows.length > q.limit });
  });

  return app;
}
