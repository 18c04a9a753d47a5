import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { requestLog } from './schema/index.js';

export type RequestLogRow = typeof requestLog.$inferInsert;
export type StoredRequestLogRow = typeof requestLog.$inferSelect;

export interface RequestLogQuery {
  requestId?: string;
  videoId?: string;
  keyId?: string;
  from?: number;
  to?: number;
  /** cursor: the seq of the last row of the previous page */
  beforeSeq?: number;
  limit: number;
}

export function requestLogStore({ db, withoutSync }: Database_) {
  const p = (name: string) => sql.placeholder(name);
  // Prepared once: a flush runs it once per row, instead of building a multi-row INSERT each time.
  const insertOne = db
    .insert(requestLog)
    .values({
      requestId: p('requestId'),
      clientRequestId: p('clientRequestId'),
      upstreamRequestId: p('upstreamRequestId'),
      keyId: p('keyId'),
      method: p('method'),
      route: p('route'),
      videoId: p('videoId'),
      status: p('status'),
      errorCode: p('errorCode'),
      durationMs: p('durationMs'),
      upstreamDurationMs: p('upstreamDurationMs'),
      bytesIn: p('bytesIn'),
      bytesOut: p('bytesOut'),
      createdAt: p('createdAt'),
    })
    .prepare();

  return {
    /** One transaction per batch, best effort: no disk sync of its own (see withoutSync). */
    insertRequestLogBatch(rows: RequestLogRow[]): void {
      if (rows.length === 0) return;
      withoutSync(() => db.transaction(() => {
        for (const r of rows) {
          insertOne.run({
            ...r,
            clientRequestId: r.clientRequestId ?? null,
            upstreamRequestId: r.upstreamRequestId ?? null,
            keyId: r.keyId ?? null,
            videoId: r.videoId ?? null,
            errorCode: r.errorCode ?? null,
            upstreamDurationMs: r.upstreamDurationMs ?? null,
            bytesIn: r.bytesIn ?? 0,
            bytesOut: r.bytesOut ?? 0,
          });
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
