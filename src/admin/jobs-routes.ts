import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { OPEN_STATUSES, TERMINAL_STATUSES } from '../db/billing-store.js';
import { invalid, notFound } from '../errors.js';
import { presentArchive, presentJob, presentLedger, presentRequest } from './present.js';
import { afterCursor, idFilter, listLimit, queryParams, rangeCheck, sortOrder, timeRange } from './input.js';

export const JOB_STATUS_FILTERS = [...OPEN_STATUSES, ...TERMINAL_STATUSES, 'open'] as const;

export const jobsQuerySchema = z
  .object({
    key_id: idFilter('only jobs of this key'),
    status: z
      .enum(JOB_STATUS_FILTERS)
      .optional()
      .meta({ description: 'only jobs in this status; `open` means pending, queued or in_progress' }),
    model: idFilter('only jobs of this model (as requested, e.g. a dated snapshot)'),
    ...timeRange,
    after: afterCursor,
    limit: listLimit,
    order: sortOrder,
  })
  .strict()
  .superRefine(rangeCheck);

/** Request-log rows shown with one job (its newest ones when there are more). */
export const JOB_REQUESTS_LIMIT = 500;

/** /admin/jobs: every billable job, whatever its state or whether its video was deleted. */
export function jobsRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const q = queryParams(c, jobsQuerySchema);
    let after;
    if (q.after !== undefined) {
      const job = await deps.store.findJobByAnyId(q.after);
      if (!job) throw invalid('after: no job with that id', 'after');
      after = { createdAt: job.createdAt, id: job.id };
    }
    const rows = await deps.store.listAdminJobs({
      keyId: q.key_id,
      statuses: q.status === 'open' ? OPEN_STATUSES : q.status !== undefined ? [q.status] : undefined,
      model: q.model,
      from: q.from,
      to: q.to,
      after,
      order: q.order,
      limit: q.limit + 1,
    });
    return c.json({ data: rows.slice(0, q.limit).map(presentJob), has_more: rows.length > q.limit });
  });

  /** The whole lifecycle of one job: the job, its ledger entries and its request-log rows. */
  app.get('/:id', async (c) => {
    const job = await deps.store.findJobByAnyId(c.req.param('id'));
    if (!job) throw notFound('job');
    await deps.requestLog.flush(); // show the calls made up to now, not up to the last batch
    const requests = await deps.store.requestLogForJob(job, JOB_REQUESTS_LIMIT + 1);
    const truncated = requests.length > JOB_REQUESTS_LIMIT;
    return c.json({
      ...presentJob(job),
      ...presentArchive(await deps.store.getArchiveTask(job.id)),
      ledger: (await deps.store.jobLedgerEntries(job.id)).map((e) => presentLedger(e, job.videoId)),
      requests: (truncated ? requests.slice(1) : requests).map(presentRequest),
      requests_truncated: truncated,
    });
  });

  return app;
}
