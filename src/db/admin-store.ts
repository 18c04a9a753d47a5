import { and, asc, desc, eq, gt, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { jobs, ledger, requestLog } from './schema/index.js';
import type { JobRow, LedgerRow } from './billing-store.js';
import type { StoredRequestLogRow } from './request-log-store.js';

/**
 * The admin views' reads: jobs, ledger and request log, filtered and keyset-paginated so pages
 * never skip or repeat a row, whatever the ties in created_at.
 */
export type { Order, JobCursor, AdminJobQuery, AdminLedgerQuery, LedgerWithVideo } from '../store/queries.js';
import type { Order, JobCursor, AdminJobQuery, AdminLedgerQuery, LedgerWithVideo } from '../store/queries.js';

/**
 * Rows strictly after `c` in (created_at, id) order. Written as a range on created_at plus a
 * tie-break so SQLite can use the created_at indexes.
 */
export function jobsAfter(c: JobCursor | undefined, order: Order): SQL | undefined {
  if (!c) return undefined;
  return order === 'asc'
    ? and(gte(jobs.createdAt, c.createdAt), or(gt(jobs.createdAt, c.createdAt), gt(jobs.id, c.id)))
    : and(lte(jobs.createdAt, c.createdAt), or(lt(jobs.createdAt, c.createdAt), lt(jobs.id, c.id)));
}

/**
 * What one ledger entry does to its key, in micro-USD: to the balance (money the key owns) and to
 * the available amount (balance − held, what it can still spend). Credit +/+, adjustment −/−,
 * hold 0/−, release 0/+, capture −/0 (the hold already took it from the available amount).
 */
const balanceDelta = sql<number>`coalesce(sum(case ${ledger.kind} when 'credit' then ${ledger.amountMicros} when 'adjustment' then -${ledger.amountMicros} when 'capture' then -${ledger.amountMicros} else 0 end), 0)`;
const availableDelta = sql<number>`coalesce(sum(case ${ledger.kind} when 'credit' then ${ledger.amountMicros} when 'release' then ${ledger.amountMicros} when 'adjustment' then -${ledger.amountMicros} when 'hold' then -${ledger.amountMicros} else 0 end), 0)`;

export function adminStore({ db }: Database_) {
  return {
    /** A key's balance and available amount right after the entry `uptoSeq` (the sum of every entry up to it). */
    ledgerTotalsUpTo(keyId: string, uptoSeq: number): { balanceMicros: number; availableMicros: number } {
      const r = db
        .select({ balanceMicros: balanceDelta, availableMicros: availableDelta })
        .from(ledger)
        .where(and(eq(ledger.keyId, keyId), lte(ledger.seq, uptoSeq)))
        .get();
      return { balanceMicros: Number(r?.balanceMicros ?? 0), availableMicros: Number(r?.availableMicros ?? 0) };
    },

    /** A job by its video id or, failing that, by reelay's internal job id. */
    findJobByAnyId(id: string): JobRow | undefined {
      return (
        db.select().from(jobs).where(eq(jobs.videoId, id)).get() ??
        db.select().from(jobs).where(eq(jobs.id, id)).get()
      );
    },

    listAdminJobs(q: AdminJobQuery): JobRow[] {
      const dir = q.order === 'asc' ? asc : desc;
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
        .orderBy(dir(jobs.createdAt), dir(jobs.id))
        .limit(q.limit)
        .all();
    },

    /** Ledger entries (with the video id of their job, if any), ordered by append sequence. */
    listAdminLedger(q: AdminLedgerQuery): LedgerWithVideo[] {
      const dir = q.order === 'asc' ? asc : desc;
      const cursor = q.afterSeq === undefined ? undefined : q.order === 'asc' ? gt(ledger.seq, q.afterSeq) : lt(ledger.seq, q.afterSeq);
      const rows = db
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
        .limit(q.limit)
        .all();
      return rows.map((r) => ({ ...r.entry, videoId: r.videoId }));
    },

    /** The append sequence of a ledger entry (the list cursor), or undefined. */
    ledgerSeqOf(id: string): number | undefined {
      return db.select({ seq: ledger.seq }).from(ledger).where(eq(ledger.id, id)).get()?.seq;
    },

    /** Every ledger entry of one job, in the order they were written. */
    jobLedgerEntries(jobId: string): LedgerRow[] {
      return db.select().from(ledger).where(eq(ledger.jobId, jobId)).orderBy(asc(ledger.seq)).all();
    },

    /**
     * The request-log rows of one job's lifecycle: the create (by reelay's request id) and every
     * later call on its video id. The newest `limit` rows, oldest first.
     */
    requestLogForJob(job: { requestId: string; videoId: string | null }, limit: number): StoredRequestLogRow[] {
      const match = job.videoId !== null ? or(eq(requestLog.requestId, job.requestId), eq(requestLog.videoId, job.videoId)) : eq(requestLog.requestId, job.requestId);
      return db.select().from(requestLog).where(match).orderBy(desc(requestLog.seq)).limit(limit).all().reverse();
    },

    /**
     * Request-log rows where `id` is reelay's, the client's or the upstream's request id, or the
     * video id; oldest first, after the cursor `afterSeq`.
     */
    findRequestsByAnyId(id: string, opts: { afterSeq?: number; limit: number }): StoredRequestLogRow[] {
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
        .limit(opts.limit)
        .all();
    },
  };
}
