import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { requestLog } from './schema/index.js';
import type { RequestLogRow, StoredRequestLogRow } from '../../store/rows.js';
import type { RequestLogQuery } from '../../store/queries.js';

/**
 * Rows per INSERT statement: 14 parameters a row stays well under PostgreSQL's 65 535 bind
 * parameters, and a flush is normally far smaller than this.
 */
const INSERT_CHUNK = 1000;

/** PostgreSQL twin of src/db/request-log-store.ts. */
export function pgRequestLogStore({ db }: PgDatabase) {
  return {
    /**
     * Deletes up to `limit` request-log rows created before `before` (oldest first), in one short
     * statement; returns how many went. Ties on created_at go in seq order, as SQLite's walk of
     * request_log_created_idx (ordered by created_at, then rowid = seq) takes them. Best effort
     * like the inserts: the commit does not wait for the WAL flush (synchronous_commit off, this
     * transaction only).
     */
    async deleteRequestLogBefore(before: number, limit: number): Promise<number> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`set local synchronous_commit = off`);
        const r = await tx.execute(
          sql`delete from request_log where seq in (select seq from request_log where created_at < ${before} order by created_at, seq limit ${limit})`,
        );
        return r.rowCount ?? 0;
      });
    },

    /**
     * One transaction per batch, best effort: synchronous_commit is off for it (the twin of
     * SQLite's withoutSync), so a server crash may lose the last batches, never corrupt anything.
     * `seq` is the database's, whatever the row says (as on SQLite).
     */
    async insertRequestLogBatch(rows: RequestLogRow[]): Promise<void> {
      if (rows.length === 0) return;
      await db.transaction(async (tx) => {
        await tx.execute(sql`set local synchronous_commit = off`);
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
          await tx.insert(requestLog).values(
            rows.slice(i, i + INSERT_CHUNK).map((r) => ({
              requestId: r.requestId,
              clientRequestId: r.clientRequestId ?? null,
              upstreamRequestId: r.upstreamRequestId ?? null,
              keyId: r.keyId ?? null,
              method: r.method,
              route: r.route,
              videoId: r.videoId ?? null,
              upstreamId: r.upstreamId ?? null,
              status: r.status,
              errorCode: r.errorCode ?? null,
              durationMs: r.durationMs,
              upstreamDurationMs: r.upstreamDurationMs ?? null,
              bytesIn: r.bytesIn ?? 0,
              bytesOut: r.bytesOut ?? 0,
              createdAt: r.createdAt,
            })),
          );
        }
      });
    },

    /** Newest first. `requestId` matches reelay's, the client's or the upstream's id. */
    async searchRequestLog(q: RequestLogQuery): Promise<StoredRequestLogRow[]> {
      const filters: (SQL | undefined)[] = [
        q.requestId
          ? or(eq(requestLog.requestId, q.requestId), eq(requestLog.clientRequestId, q.requestId), eq(requestLog.upstreamRequestId, q.requestId))
          : undefined,
        q.videoId ? eq(requestLog.videoId, q.videoId) : undefined,
        q.keyId ? eq(requestLog.keyId, q.keyId) : undefined,
        q.from !== undefined ? gte(requestLog.createdAt, q.from) : undefined,
        q.to !== undefined ? lt(requestLog.createdAt, q.to) : undefined,
        q.beforeSeq !== undefined ? lt(requestLog.seq, q.beforeSeq) : undefined,
      ];
      return db.select().from(requestLog).where(and(...filters)).orderBy(desc(requestLog.seq)).limit(q.limit);
    },
  };
}
