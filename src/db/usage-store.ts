import { and, asc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { apiKeys, jobs } from './schema/index.js';
import { jobsAfter, type JobCursor } from './admin-store.js';

export type { UsageFilter, UsageGroupBy, UsageRow, UsageGroupRow } from '../store/queries.js';
import type { UsageFilter, UsageGroupBy, UsageRow, UsageGroupRow } from '../store/queries.js';

/** Billing reads: the usage export (keyset-paginated pages) and the SQL-aggregated summary. */
function usageWhere(f: UsageFilter): SQL | undefined {
  return and(
    f.keyId !== undefined ? eq(jobs.keyId, f.keyId) : undefined,
    f.from !== undefined ? gte(jobs.createdAt, f.from) : undefined,
    f.to !== undefined ? lt(jobs.createdAt, f.to) : undefined,
  );
}

/** Seconds that were billed: those of a completed job, else 0 (failed, expired, … are free). */
const billedSecondsExpr = sql<number>`case when ${jobs.status} = 'completed' then coalesce(${jobs.billedSeconds}, 0) else 0 end`;

export function usageStore({ db }: Database_) {
  return {
    /**
     * One page of the usage export: jobs submitted in the range, oldest first, strictly after the
     * cursor. Callers loop until a page comes back shorter than `limit`.
     */
    usageExportPage(f: UsageFilter, after: JobCursor | undefined, limit: number): UsageRow[] {
      return db
        .select({
          id: jobs.id,
          videoId: jobs.videoId,
          keyId: jobs.keyId,
          keyName: apiKeys.name,
          kind: jobs.kind,
          model: jobs.model,
          size: jobs.size,
          requestedSeconds: jobs.requestedSeconds,
          billedSeconds: jobs.billedSeconds,
          rateMicros: jobs.rateMicros,
          flatPriceMicros: jobs.flatPriceMicros,
          chargedMicros: jobs.chargedMicros,
          status: jobs.status,
          errorCode: jobs.errorCode,
          requestId: jobs.requestId,
          upstreamRequestId: jobs.upstreamRequestId,
          upstreamId: jobs.upstreamId,
          createdAt: jobs.createdAt,
          completedAt: jobs.completedAt,
        })
        .from(jobs)
        .leftJoin(apiKeys, eq(apiKeys.id, jobs.keyId))
        .where(and(usageWhere(f), jobsAfter(after, 'asc')))
        .orderBy(asc(jobs.createdAt), asc(jobs.id))
        .limit(limit)
        .all();
    },

    /** Totals per key, model or UTC day of submission, ordered by group. */
    usageSummary(f: UsageFilter, groupBy: UsageGroupBy): UsageGroupRow[] {
      const groupExpr =
        groupBy === 'key'
          ? sql<string>`${jobs.keyId}`
          : groupBy === 'model'
            ? sql<string>`${jobs.model}`
            : groupBy === 'upstream'
              ? sql<string>`${jobs.upstreamId}`
              : sql<string>`strftime('%Y-%m-%d', ${jobs.createdAt} / 1000, 'unixepoch')`;
      return db
        .select({
          group: groupExpr.as('grp'),
          keyName: groupBy === 'key' ? sql<string | null>`max(${apiKeys.name})` : sql<null>`null`,
          jobs: sql<number>`count(*)`,
          chargedJobs: sql<number>`coalesce(sum(case when ${jobs.chargedMicros} > 0 then 1 else 0 end), 0)`,
          billedSeconds: sql<number>`coalesce(sum(${billedSecondsExpr}), 0)`,
          amountMicros: sql<number>`coalesce(sum(${jobs.chargedMicros}), 0)`,
        })
        .from(jobs)
        .leftJoin(apiKeys, eq(apiKeys.id, jobs.keyId))
        .where(usageWhere(f))
        .groupBy(sql`grp`)
        .orderBy(sql`grp`)
        .all();
    },
  };
}
