import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { requestLog } from './schema/index.js';

export type { RequestLogRow, StoredRequestLogRow } from '../store/rows.js';
import type { RequestLogRow, StoredRequestLogRow } from '../store/rows.js';

export type { RequestLogQuery } from '../store/queries.js';
import type { RequestLogQuery } from '../store/queries.js';

export function requestLogStore({ db, sqlite, withoutSync }: Database_) {
  // One statement prepared once and run per row with positional values: a flush runs it for every
  // request, and drizzle's placeholder filling would cost more than SQLite's own insert work.
  const insertOne = sqlite.prepare(
    `insert into request_log (request_id, client_request_id, upstream_request_id, key_id, method, route, video_id,
       upstream_id, status, error_code, duration_ms, upstream_duration_ms, bytes_in, bytes_out, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  // Oldest first through request_log_created_idx; seq is the rowid, so each row is found directly.
  const deleteOlder = sqlite.prepare(
    'delete from request_log where seq in (select seq from request_log where created_at < ? order by created_at limit ?)',
  );

  return {
    /**
     * Deletes up to `limit` request-log rows created before `before` (oldest first), in one short
     * statement; returns how many went. Best effort like the inserts: no disk sync of its own.
     */
    deleteRequestLogBefore(before: number, limit: number): number {
      return withoutSync(() => deleteOlder.run(before, limit).changes);
    },

    /** One transaction per batch, best effort: no disk sync of its own (see withoutSync). */
    insertRequestLogBatch(rows: RequestLogRow[]): void {
      if (rows.length === 0) return;
      withoutSync(() => db.transaction(() => {
        for (const r of rows) {
          insertOne.run(
            r.requestId,
            r.clientRequestId ?? null,
            r.upstreamRequestId ?? null,
            r.keyId ?? null,
            r.method,
            r.route,
            r.videoId ?? null,
            r.upstreamId ?? null,
            r.status,
            r.errorCode ?? null,
            r.durationMs,
            r.upstreamDurationMs ?? null,
            r.bytesIn ?? 0,
            r.bytesOut ?? 0,
            r.createdAt,
          );
        }
      }));
    },

    /** Newest first. `requestId` matches reelay's, the client's or the upstream's id. */
    searchRequestLog(q: RequestLogQuery): StoredRequestLogRow[] {
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
      return db.select().from(requestLog).where(and(...filters)).orderBy(desc(requestLog.seq)).limit(q.limit).all();
    },
  };
}
