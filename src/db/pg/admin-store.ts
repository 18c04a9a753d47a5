import { and, asc, desc, eq, gt, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { jobs, ledger, requestLog } from './schema/index.js';
import type { JobRow, LedgerRow, StoredRequestLogRow } from '../../store/rows.js';
import type { AdminJobQuery, AdminLedgerQuery, JobCursor, LedgerWithVideo, Order } from '../../store/queries.js';

/**
 * PostgreSQL twin of src/db/admin-store.ts: the admin views' reads, filtered and keyset-paginated
 * so pages never skip or repeat a row, whatever the ties in created_at.
 *
 * Text ids are compared and ordered with COLLATE "C" (byte order), which is SQLite's BINARY
 * collation: pages and ties come out in the same order on both engines, whatever the database's
 * default collation.
 */

/** A job id in byte order, for tie-breaks and cursors. */
export const jobIdBytes = sql`${jobs.id} collate "C"`;

/** Orders by created_at, then id in byte order, in one direction. */
export function jobsOrder(order: Order): SQL[] {
  return order === 'asc' ? [asc(jobs.createdAt), asc(jobIdBytes)] : [desc(jobs.createdAt), desc(jobIdBytes)];
}

/** Rows strictly after `c` in (created_at, id) order: a range on created_at plus a tie-break. */
export function jobsAfter(c: JobCursor | undefined, order: Order): SQL | undefined {
  if (!c) return undefined;
  return order === 'asc'
    ? and(gte(jobs.createdAt, c.createdAt), or(gt(jobs.createdAt, c.createdAt), sql`${jobIdBytes} > ${c.id}`))
    : and(lte(jobs.createdAt, c.createdAt), or(lt(jobs.createdAt, c.createdAt), sql`${jobIdBytes} < ${c.id}`));
}

/**
 * What one ledger entry does to its key (see src/db/admin-store.ts). node-postgres returns a
 * sum of bigint as a numeric string: mapped to a number here.
 */
const balanceDelta = sql<number>`coalesce(sum(case ${ledger.kind} when 'credit' then ${ledger.amountMicros} when 'adjustment' then -${ledger.amountMicros} when 'capture' then -${ledger.amountMicros} else 0 end), 0)`.mapWith(Number);
const availableDelta = sql<number>`coalesce(sum(case ${ledger.kind} when 'credit' then ${ledger.amountMicros} when 'release' then ${ledger.amountMicros} when 'adjustment' then -${ledger.amountMicros} when 'hold' then -${ledger.amountMicros} else 0 end), 0)`.mapWith(Number);

export function pgAdminStore({ db }: PgDatabase) {
  return {
    /** A key's balance and available amount right after the entry `uptoSeq` (the sum of every entry up to it). */
    async ledgerTotalsUpTo(keyId: string, uptoSeq: number): Promise<{ balanceMicros: number; availableMicros: number }> {
      const [r] = await db
        .select({ balanceMicros: balanceDelta, availableMicros: availableDelta })
        .from(ledger)
        .where(and(eq(ledger.keyId, keyId), lte(ledger.seq, uptoSeq)));
      return { balanceMicros: Number(r?.balanceMicros ?? 0), availableMicros: Number(r?.availableMicros ?? 0) };
    },

    /** A job by its video id or, failing that, by reelay's internal job id. */
    async findJobByAnyId(id: string): Promise<JobRow | undefined> {
      const [byVideo] = await db.select().from(jobs).where(eq(jobs.videoId, id)).limit(1);
      if (byVideo) return byVideo;
      const [byId] = await db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
      return byId;
    },

    async listAdminJobs(q: AdminJobQuery): Promise<JobRow[]> {
      return db
        .select()
        .from(jobs)
        .where(
          and(
            q.keyId !== undefined ? eq(jobs.keyId, q.keyId) : undefined,
            q.statuses !== undefined ? inArray(jobs.status, [...q.statuses]) : undefined,
            q.model !== undefined ? eq(jobs.model, q.model) : undefined,
            q.from !== undefined ? gte(jobs.createdAt, q.from) : undefined,
            q.to !== undefined ? lt(jobs.createdAt, q.to) : undefined,
            jobsAfter(q.after, q.order),
          ),
        )
        .orderBy(...jobsOrder(q.order))
        .limit(q.limit);
    },

    /** Ledger entries (with the video id of their job, if any), ordered by append sequence. */
    async listAdminLedger(q: AdminLedgerQuery): Promise<LedgerWithVideo[]> {
      const dir = q.order === 'asc' ? asc : desc;
      const cursor = q.afterSeq === undefined ? undefined : q.order === 'asc' ? gt(ledger.seq, q.afterSeq) : lt(ledger.seq, q.afterSeq);
      const rows = await db
        .select({ entry: ledger, videoId: jobs.videoId })
        .from(ledger)
        .leftJoin(jobs, eq(jobs.id, ledger.jobId))
        .where(
          and(
            q.keyId !== undefined ? eq(ledger.keyId, q.keyId) : undefined,
            q.jobId !== undefined ? eq(ledger.jobId, q.jobId) : undefined,
            q.from !== undefined ? gte(ledger.createdAt, q.from) : undefined,
            q.to !== undefined ? lt(ledger.createdAt, q.to) : undefined,
            cursor,
          ),
        )
        .orderBy(dir(ledger.seq))
        .limit(q.limit);
      return rows.map((r) => ({ ...r.entry, videoId: r.videoId }));
    },

    /** The append sequence of a ledger entry (the list cursor), or undefined. */
    async ledgerSeqOf(id: string): Promise<number | undefined> {
      const [r] = await db.select({ seq: ledger.seq }).from(ledger).where(eq(ledger.id, id)).limit(1);
      return r?.seq;
    },

    /** Every ledger entry of one job, in the order they were written. */
    async jobLedgerEntries(jobId: string): Promise<LedgerRow[]> {
      return db.select().from(ledger).where(eq(ledger.jobId, jobId)).orderBy(asc(ledger.seq));
    },

    /**
     * The request-log rows of one job's lifecycle: the create (by reelay's request id) and every
     * later call on its video id. The newest `limit` rows, oldest first.
     */
    async requestLogForJob(job: { requestId: string; videoId: string | null }, limit: number): Promise<StoredRequestLogRow[]> {
      const match = job.videoId !== null ? or(eq(requestLog.requestId, job.requestId), eq(requestLog.videoId, job.videoId)) : eq(requestLog.requestId, job.requestId);
      const rows = await db.select().from(requestLog).where(match).orderBy(desc(requestLog.seq)).limit(limit);
      return rows.reverse();
    },

    /**
     * Request-log rows where `id` is reelay's, the client's or the upstream's request id, or the
     * video id; oldest first, after the cursor `afterSeq`.
     */
    async findRequestsByAnyId(id: string, opts: { afterSeq?: number; limit: number }): Promise<StoredRequestLogRow[]> {
      return db
        .select()
        .from(requestLog)
        .where(
          and(
            or(eq(requestLog.requestId, id), eq(requestLog.clientRequestId, id), eq(requestLog.upstreamRequestId, id), eq(requestLog.videoId, id)),
            opts.afterSeq !== undefined ? gt(requestLog.seq, opts.afterSeq) : undefined,
          ),
        )
        .orderBy(asc(requestLog.seq))
        .limit(opts.limit);
    },
  };
}
