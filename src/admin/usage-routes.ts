import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import type { Store } from '../db/store.js';
import type { UsageFilter, UsageGroupBy } from '../db/usage-store.js';
import { finishRequest } from '../http/request-context.js';
import { formatUsd } from '../money.js';
import { presentUsageGroup } from './present.js';
import { idFilter, queryParams, rangeCheck, timeRange } from './input.js';
import { EXPORT_CONTENT_TYPES, EXPORT_FORMATS, exportChunks, exportFilename, exportStream } from './export.js';

export const usageExportQuerySchema = z
  .object({
    ...timeRange,
    key_id: idFilter('only jobs of this key'),
    format: z.enum(EXPORT_FORMATS).default('csv').meta({ description: 'csv (RFC 4180, CRLF), jsonl (one object per line) or json (an array)' }),
  })
  .strict()
  .superRefine(rangeCheck);

export const USAGE_GROUPS = ['key', 'model', 'day', 'upstream'] as const;

export const usageSummaryQuerySchema = z
  .object({
    ...timeRange,
    key_id: idFilter('only jobs of this key'),
    group_by: z.enum(USAGE_GROUPS).default('key').meta({ description: 'key id, model, UTC day (YYYY-MM-DD) of submission, or upstream id' }),
  })
  .strict()
  .superRefine(rangeCheck);

/** Totals per group, plus the grand total; shared by the route and the CLI. */
export async function usageSummary(store: Store, filter: UsageFilter, groupBy: UsageGroupBy) {
  const groups = await store.usageSummary(filter, groupBy);
  const total = { jobs: 0, charged_jobs: 0, billed_seconds: 0, amountMicros: 0 };
  for (const g of groups) {
    total.jobs += g.jobs;
    total.charged_jobs += g.chargedJobs;
    total.billed_seconds += g.billedSeconds;
    total.amountMicros += g.amountMicros;
  }
  return {
    group_by: groupBy,
    data: groups.map((g) => presentUsageGroup(g, groupBy)),
    total: { jobs: total.jobs, charged_jobs: total.charged_jobs, billed_seconds: total.billed_seconds, amount_usd: formatUsd(total.amountMicros) },
  };
}

/** /admin/usage: the billing export (streamed) and the usage summary. */
export function usageRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/export', (c) => {
    const q = queryParams(c, usageExportQuerySchema);
    const filter: UsageFilter = { from: q.from, to: q.to, keyId: q.key_id };
    const state = c.get('state');
    const method = c.req.method;
    // The response outlives this handler: the request-log row is written when the stream ends.
    state.streamed = true;
    const chunks = exportChunks((after, limit) => deps.store.usageExportPage(filter, after, limit), q.format);
    const body = exportStream(chunks, (end) => {
      if (end.outcome === 'cancelled') state.errorCode = 'client_closed';
      if (end.outcome === 'error') {
        state.errorCode = 'export_failed';
        deps.logger.error({ request_id: state.requestId, rows: end.rows }, 'usage export failed midway');
      }
      finishRequest(deps, state, method, 200, end.bytes);
    });
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': EXPORT_CONTENT_TYPES[q.format],
        'content-disposition': `attachment; filename="${exportFilename(q.format, filter)}"`,
        'cache-control': 'private, no-store',
        'x-content-type-options': 'nosniff',
        'x-request-id': state.requestId,
      },
    });
  });

  app.get('/summary', async (c) => {
    const q = queryParams(c, usageSummaryQuerySchema);
    return c.json(await usageSummary(deps.store, { from: q.from, to: q.to, keyId: q.key_id }, q.group_by));
  });

  return app;
}
