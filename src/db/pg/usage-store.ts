import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { apiKeys, jobs } from './schema/index.js';
import { jobsAfter, jobsOrder } from './admin-store.js';
import type { JobCursor, UsageFilter, UsageGroupBy, UsageGroupRow, UsageRow } from '../../store/queries.js';

/** PostgreSQL twin of src/db/usage-store.ts: the usage export and the SQL-aggregated summary. */

function usageWhere(f: UsageFilter): SQL | undefined {
  return and(
    f.keyId !== undefined ? eq(jobs.keyId, f.keyId) : undefined,
    f.from !== undefined ? gte(jobs.createdAt, f.from) : undefined,
    f.to !== undefined ? lt(jobs.createdAt, f.to) : undefined,
  );
}

/** Seconds that were billed: those of a completed job, else 0 (failed, expired, … are free). */
const billedSecondsExpr = sql`case when ${jobs.status} = 'completed' then coalesce(${jobs.billedSeconds}, 0) else 0 end`;

/**
 * The UTC date (YYYY-MM-DD) of an epoch-ms bigint, exactly as SQLite's
 * strftime('%Y-%m-%d', ms / 1000, 'unixepoch'): whole seconds first (integer division), then the date.
 */
export const utcDay = (ms: SQL | string) => sql`to_char(to_timestamp(${typeof ms === 'string' ? sql.raw(ms) : ms} / 1000) at time zone 'UTC', 'YYYY-MM-DD')`;

export function pgUsageStore({ db }: PgDatabase) {
  return {
    /**
     * One page of the usage export: jobs submitted in the range, oldest first, strictly after the
     * cursor. Callers loop until a page comes back shorter than `limit`.
     */
    async usageExportPage(f: UsageFilter, after: JobCursor | undefined, limit: number): Promise<UsageRow[]> {
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
        .orderBy(...jobsOrder('asc'))
        .limit(limit);
    },

    /** Totals per key, model or UTC day of submission, ordered by group (byte order, as SQLite). */
    async usageSummary(f: UsageFilter, groupBy: UsageGroupBy): Promise<UsageGroupRow[]> {
      const groupExpr = groupBy === 'key' ? sql`${jobs.keyId}` : groupBy === 'model' ? sql`${jobs.model}` : groupBy === 'upstream' ? sql`${jobs.upstreamId}` : utcDay(sql`${jobs.createdAt}`);
      return db
        .select({
          group: sql<string>`${groupExpr} collate "C"`.as('grp'),
          keyName: groupBy === 'key' ? sql<string | null>`max(${apiKeys.name})` : sql<null>`null::text`,
          jobs: sql<number>`count(*)`.mapWith(Number),
          chargedJobs: sql<number>`count(*) filter (where ${jobs.chargedMicros} > 0)`.mapWith(Number),
          billedSeconds: sql<number>`coalesce(sum(${billedSecondsExpr}), 0)`.mapWith(Number),
          amountMicros: sql<number>`coalesce(sum(${jobs.chargedMicros}), 0)`.mapWith(Number),
        })
        .from(jobs)
        .leftJoin(apiKeys, eq(apiKeys.id, jobs.keyId))
        .where(usageWhere(f))
        .groupBy(sql`grp`)
        .orderBy(sql`grp`);
    },
  };
}
