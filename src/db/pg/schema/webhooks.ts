import { pgTable, text, integer, bigint, index } from 'drizzle-orm/pg-core';
import { apiKeys } from './keys.js';
import { jobs } from './jobs.js';

/** PostgreSQL twin of src/db/schema/webhooks.ts (the meanings are documented there). */

export const webhookSecrets = pgTable(
  'webhook_secrets',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    secret: text('secret').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }),
  },
  (t) => [index('webhook_secrets_key_idx').on(t.keyId)],
);

export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    jobId: text('job_id').notNull().unique().references(() => jobs.id),
    videoId: text('video_id').notNull(),
    type: text('type', { enum: ['video.completed', 'video.failed'] }).notNull(),
    body: text('body').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attemptCount: integer('attempt_count').notNull().default(0),
    retryStep: integer('retry_step').notNull().default(0),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }),
    claimedBy: text('claimed_by'),
    claimUntil: bigint('claim_until', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    deliveredAt: bigint('delivered_at', { mode: 'number' }),
  },
  (t) => [
    index('webhook_events_due_idx').on(t.status, t.nextAttemptAt),
    // Listings go newest first by id (ids begin with their creation time), so no index on
    // created_at: each index is another B-tree written in the settling transaction.
    index('webhook_events_key_idx').on(t.keyId, t.id),
  ],
);

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    // By default (not always) so `db copy` can carry SQLite's seq values over as they are.
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    eventId: text('event_id').notNull().references(() => webhookEvents.id),
    at: bigint('at', { mode: 'number' }).notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    instanceId: text('instance_id'),
  },
  (t) => [index('webhook_attempts_event_idx').on(t.eventId, t.seq)],
);
