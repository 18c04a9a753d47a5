import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/** One row per request to /v1 and /admin. Written in batches (best effort, at most ~1 s lost on a crash). */
export const requestLog = sqliteTable(
  'request_log',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    requestId: text('request_id').notNull(),
    clientRequestId: text('client_request_id'),
    upstreamRequestId: text('upstream_request_id'),
    keyId: text('key_id'),
    method: text('method').notNull(),
    route: text('route').notNull(),
    videoId: text('video_id'),
    /** The upstream this request (or this failover attempt) reached; null when it reached none. */
    upstreamId: text('upstream_id'),
    status: integer('status').notNull(),
    errorCode: text('error_code'),
    durationMs: integer('duration_ms').notNull(),
    upstreamDurationMs: integer('upstream_duration_ms'),
    bytesIn: integer('bytes_in').notNull().default(0),
    bytesOut: integer('bytes_out').notNull().default(0),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('request_log_request_id_idx').on(t.requestId),
    index('request_log_client_id_idx').on(t.clientRequestId),
    index('request_log_upstream_id_idx').on(t.upstreamRequestId),
    index('request_log_video_idx').on(t.videoId),
    index('request_log_key_idx').on(t.keyId, t.createdAt),
    index('request_log_created_idx').on(t.createdAt),
  ],
);
