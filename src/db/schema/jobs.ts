import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.js';

/**
 * One row per billable submission. The row exists before the upstream is called (status
 * `pending`, holding the price); `video_id` is filled in from the upstream's answer.
 * `status` is reelay's view: pending | queued | in_progress | completed | failed | expired |
 * rejected (upstream refused the create) | unknown (the create's outcome was never learnt).
 */
export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    videoId: text('video_id'),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    kind: text('kind').notNull(),
    model: text('model').notNull(),
    size: text('size').notNull(),
    requestedSeconds: integer('requested_seconds').notNull(),
    billedSeconds: integer('billed_seconds'),
    /**
     * The finished video's whole length as the upstream reported it. For an extension this is the
     * stitched length (billed_seconds is the extension's own); remixes and edits of it price at this.
     */
    outputSeconds: integer('output_seconds'),
    sourceVideoId: text('source_video_id'),
    status: text('status').notNull(),
    progress: integer('progress'),
    rateMicros: integer('rate_micros').notNull(),
    flatPriceMicros: integer('flat_price_micros'),
    heldMicros: integer('held_micros').notNull(),
    chargedMicros: integer('charged_micros').notNull().default(0),
    requestId: text('request_id').notNull(),
    upstreamRequestId: text('upstream_request_id'),
    finalObject: text('final_object'),
    errorCode: text('error_code'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    completedAt: integer('completed_at'),
    settledAt: integer('settled_at'),
    lateCompletedAt: integer('late_completed_at'),
    deletedAt: integer('deleted_at'),
    nextPollAt: integer('next_poll_at'),
    pollFailures: integer('poll_failures').notNull().default(0),
    notFoundCount: integer('not_found_count').notNull().default(0),
    lastNotFoundAt: integer('last_not_found_at'),
    /** The instance that made the create: a `pending` job is taken over only once it is dead. */
    instanceId: text('instance_id'),
    /** The reconciler's lease on the job's next poll: which instance polls it, and until when. */
    claimedBy: text('claimed_by'),
    /**
     * The upstream (contract §10) that took the create, for good: every follow-up goes there with
     * its credential. Video ids are unique per upstream, not globally (two providers may hand out
     * the same id).
     */
    upstreamId: text('upstream_id').notNull().default('default'),
    claimUntil: integer('claim_until'),
  },
  (t) => [
    index('jobs_key_created_idx').on(t.keyId, t.createdAt),
    index('jobs_status_poll_idx').on(t.status, t.nextPollAt),
    index('jobs_created_idx').on(t.createdAt),
    // Looking a job up by its create's request id (reelay's or the upstream's), e.g. a create
    // that never got a video id, from the dashboard's request lookup.
    index('jobs_request_id_idx').on(t.requestId),
    index('jobs_upstream_request_id_idx').on(t.upstreamRequestId),
    uniqueIndex('jobs_upstream_video_idx').on(t.upstreamId, t.videoId),
    index('jobs_video_idx').on(t.videoId, t.keyId),
    index('jobs_upstream_status_idx').on(t.upstreamId, t.status),
  ],
);
