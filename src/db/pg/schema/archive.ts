import { pgTable, text, integer, bigint, index } from 'drizzle-orm/pg-core';
import { jobs } from './jobs.js';

/** PostgreSQL twin of src/db/schema/archive.ts (the column meanings are documented there). */
export const archiveTasks = pgTable(
  'archive_tasks',
  {
    jobId: text('job_id').primaryKey().references(() => jobs.id),
    videoId: text('video_id').notNull(),
    state: text('state').notNull(),
    variants: text('variants').notNull().default('{}'),
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }).notNull(),
    upstreamExpiresAt: bigint('upstream_expires_at', { mode: 'number' }).notNull(),
    completedAt: bigint('completed_at', { mode: 'number' }).notNull(),
    claimedBy: text('claimed_by'),
    claimUntil: bigint('claim_until', { mode: 'number' }),
    lastError: text('last_error'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
    archivedAt: bigint('archived_at', { mode: 'number' }),
    deletedAt: bigint('deleted_at', { mode: 'number' }),
    purgedAt: bigint('purged_at', { mode: 'number' }),
  },
  (t) => [index('archive_tasks_state_due_idx').on(t.state, t.nextAttemptAt), index('archive_tasks_completed_idx').on(t.completedAt)],
);
