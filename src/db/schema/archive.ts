import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import { jobs } from './jobs.js';

/**
 * The archive's outbox (contract §11; design.md, "Side effects after a settlement go through an
 * outbox"): one row per completed job, written in the transaction that settles it. Archive workers
 * lease rows (`claimed_by`, `claim_until`, like the reconciler's leases on jobs), copy each variant
 * from the upstream into the archive store, and record what they stored.
 *
 * `state`: pending (to copy, or being copied) | archived (every variant stored) | failed (the
 * upstream's copy expired before it could be copied) | deleted (DELETE or retention; the stored
 * objects are gone once `purged_at` is set). `variants` is a JSON object of the variants stored so
 * far: `{"video": {"bytes": 123, "contentType": "video/mp4"}, "spritesheet": null}` (null: the
 * upstream serves none). Keys in the store are derived from `job_id` and the variant, never from
 * client input.
 */
export const archiveTasks = sqliteTable(
  'archive_tasks',
  {
    jobId: text('job_id').primaryKey().references(() => jobs.id),
    videoId: text('video_id').notNull(),
    state: text('state').notNull(),
    variants: text('variants').notNull().default('{}'),
    bytes: integer('bytes').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** Until when the upstream keeps its copy: retries stop then, and the task fails. */
    upstreamExpiresAt: integer('upstream_expires_at').notNull(),
    /** The job's completion: the archive's retention counts from it. */
    completedAt: integer('completed_at').notNull(),
    claimedBy: text('claimed_by'),
    claimUntil: integer('claim_until'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    archivedAt: integer('archived_at'),
    deletedAt: integer('deleted_at'),
    /** When the stored objects of a deleted task were removed from the store. */
    purgedAt: integer('purged_at'),
  },
  (t) => [index('archive_tasks_state_due_idx').on(t.state, t.nextAttemptAt), index('archive_tasks_completed_idx').on(t.completedAt)],
);
