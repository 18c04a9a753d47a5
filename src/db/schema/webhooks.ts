import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.js';
import { jobs } from './jobs.js';

/**
 * Webhooks to clients (contract §12), an outbox (design.md, "Side effects after a settlement go
 * through an outbox"): the event row is written in the transaction that settles its job, and
 * delivery workers of any instance lease it, attempt it and record each attempt.
 */

/**
 * A key's signing secrets (`whsec_…`). The current one has no `expires_at`; after a rotation the
 * previous one keeps signing until its `expires_at` (24 h). Stored as they are: reelay must sign
 * with them, so it must be able to read them (see README, "Webhooks").
 */
export const webhookSecrets = sqliteTable(
  'webhook_secrets',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    secret: text('secret').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
  },
  (t) => [index('webhook_secrets_key_idx').on(t.keyId)],
);

/**
 * One event per settled job at most (the unique job_id). `body` is the exact JSON sent every time;
 * `status` pending | delivered | failed; `retry_step` counts the failed attempts since the event was
 * (re)queued, which picks the next delay of the schedule; `claimed_by`/`claim_until` are the lease
 * of the instance attempting it.
 */
export const webhookEvents = sqliteTable(
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
    nextAttemptAt: integer('next_attempt_at'),
    claimedBy: text('claimed_by'),
    claimUntil: integer('claim_until'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    index('webhook_events_due_idx').on(t.status, t.nextAttemptAt),
    // Listings go newest first by id (ids begin with their creation time), so no index on
    // created_at: each index is another B-tree written in the settling transaction.
    index('webhook_events_key_idx').on(t.keyId, t.id),
  ],
);

/** Every delivery attempt: when, the endpoint's status code (if it answered), why it failed, how long it took. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    eventId: text('event_id').notNull().references(() => webhookEvents.id),
    at: integer('at').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    instanceId: text('instance_id'),
  },
  (t) => [index('webhook_attempts_event_idx').on(t.eventId, t.seq)],
);
