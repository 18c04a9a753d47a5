import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { requestLog } from './schema/index.js';
import type { RequestLogRow, StoredRequestLogRow } from '../../store/rows.js';
import type { RequestLogQuery } from '../../store/queries.js';

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
     * One statement per batch, best effort: synchronous_commit is off for it (the twin of
     * SQLite's withoutSync), so a server crash may lose the last batches, never corrupt anything.
     * The rows go as one array per column through unnest(): fourteen parameters whatever the
     * batch size, instead of fourteen a row for drizzle to build and PostgreSQL to parse (with
     * thousands of requests a second that was most of what the request log cost reelay's CPU).
     * `seq` is the database's, whatever the row says (as on SQLite).
     */
    async insertRequestLogBatch(rows: RequestLogRow[]): Promise<void> {
      if (rows.length === 0) return;
      const column = <T>(pick: (r: RequestLogRow) => T) => sql.param(rows.map(pick));
      await db.transaction(async (tx) => {
        await tx.execute(sql`set local synchronous_commit = off`);
        await tx.execute(sql`
          insert into request_log (request_id, client_request_id, upstream_request_id, key_id, method, route, video_id, upstream_id,
            status, error_code, duration_ms, upstream_duration_ms, bytes_in, bytes_out, created_at)
          select * from unnest(
            ${column((r) => r.requestId)}::text[], ${column((r) => r.clientRequestId ?? null)}::text[],
            ${column((r) => r.upstreamRequestId ?? null)}::text[], ${column((r) => r.keyId ?? null)}::text[],
            ${column((r) => r.method)}::text[], ${column((r) => r.route)}::text[], ${column((r) => r.videoId ?? null)}::text[], ${column((r) => r.upstreamId ?? null)}::text[],
            ${column((r) => r.status)}::integer[], ${column((r) => r.errorCode ?? null)}::text[],
            ${column((r) => r.durationMs)}::integer[], ${column((r) => r.upstreamDurationMs ?? null)}::integer[],
            ${column((r) => r.bytesIn ?? 0)}::bigint[], ${column((r) => r.bytesOut ?? 0)}::bigint[],
            ${column((r) => r.createdAt)}::bigint[])`);
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
