import { pgTable, text, integer, bigint, index } from 'drizzle-orm/pg-core';

/**
 * PostgreSQL twin of src/db/schema/request-log.ts. bytes_in/bytes_out are bigint as well: one
 * content download can pass 2 GiB.
 */
export const requestLog = pgTable(
  'request_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
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
    bytesIn: bigint('bytes_in', { mode: 'number' }).notNull().default(0),
    bytesOut: bigint('bytes_out', { mode: 'number' }).notNull().default(0),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
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
