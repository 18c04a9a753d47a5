import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql, sum, type SQL } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { jobs } from './schema/index.js';
import { OPEN_STATUSES } from '../../store/rows.js';
import type { JobsStore } from '../../store/store.js';

/** Deferred poll-schedule moves are written at least this often while polls keep coming (as on SQLite). */
export const POLL_SCHEDULE_FLUSH_MS = 1000;

/**
 * Job reads and the non-money updates of a job's progress on PostgreSQL; the same units as
 * src/db/jobs-store.ts. Each write is one statement (the schedule flush, one transaction).
 *
 * No job-row cache here: SQLite's JobRowCache is dropped by this process's own writes only, which
 * is not correct across instances sharing one database; getJobForRequest reads the row.
 */
export function pgJobsStore({ db }: PgDatabase): JobsStore {
  const idC = sql`${jobs.id} collate "C"`;
  const byId = (id: string) => db.select().from(jobs).where(eq(jobs.id, id)).then((rows) => rows[0]);
  // Video ids are unique per upstream only: a key's own job for an id, else (admin) the newest.
  const byVideo = (videoId: string, keyId?: string) =>
    db
      .select()
      .from(jobs)
      .where(and(eq(jobs.videoId, videoId), keyId === undefined ? undefined : eq(jobs.keyId, keyId)))
      .orderBy(desc(jobs.createdAt), desc(idC))
      .limit(1)
      .then((rows) => rows[0]);
  // A running job whose last poll went through: no failures or 404s counted that a write must clear.
  const pollsClean = sql`${jobs.pollFailures} = 0 and ${jobs.notFoundCount} = 0 and ${jobs.lastNotFoundAt} is null`;
  const submittedAndOpen = inArray(jobs.status, ['queued', 'in_progress']);

  /** Job id → the next poll time a poll that saw nothing new moved it to, not yet written. */
  const scheduleMoves = new Map<string, number>();
  let scheduleWrittenAt = Number.NEGATIVE_INFINITY;

  /**
   * Writes the deferred schedule moves in one transaction. The rows are locked in id order first,
   * so two instances flushing overlapping jobs cannot deadlock each other.
   */
  const flushPollSchedule = async (now: number): Promise<void> => {
    scheduleWrittenAt = now;
    if (scheduleMoves.size === 0) return;
    const moves = [...scheduleMoves];
    scheduleMoves.clear();
    const ids = moves.map(([id]) => id);
    const nexts = moves.map(([, at]) => at);
    await db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from ${jobs} where ${jobs.id} = any(${sql.param(ids)}::text[]) order by ${idC} for update`);
      await tx.execute(sql`
        update ${jobs} set next_poll_at = v.next_poll_at, claimed_by = null, claim_until = null, updated_at = ${now}
        from unnest(${sql.param(ids)}::text[], ${sql.param(nexts)}::bigint[]) as v(id, next_poll_at)
        where ${jobs.id} = v.id and ${submittedAndOpen} and ${pollsClean}
          and (${jobs.nextPollAt} is null or ${jobs.nextPollAt} < v.next_poll_at)`);
    });
  };

  // The reconciler writes one of these per poll of a running job: a named prepared statement, so
  // neither drizzle nor the server builds or plans it again each time.
  const recordProgressStmt = db
    .update(jobs)
    .set({
      status: sql`${sql.placeholder('status')}`,
      progress: sql`${sql.placeholder('progress')}::integer`,
      nextPollAt: sql`${sql.placeholder('nextPollAt')}::bigint`,
      pollFailures: 0,
      notFoundCount: 0,
      lastNotFoundAt: null,
      claimedBy: null,
      claimUntil: null,
      updatedAt: sql`${sql.placeholder('now')}::bigint`,
    })
    .where(
      and(
        eq(jobs.id, sql.placeholder('id')),
        submittedAndOpen,
        sql`not (${jobs.status} = ${sql.placeholder('status')} and ${jobs.progress} is not distinct from ${sql.placeholder('progress')}::integer
          and ${pollsClean} and ${jobs.nextPollAt} > ${sql.placeholder('now')}::bigint)`,
      ),
    )
    .prepare('jobs_record_progress');

  return {
    getJob: byId,
    getJobByVideoId: byVideo,
    getJobForRequest: (keyId: string, videoId: string) => byVideo(videoId, keyId),

    /**
     * A key's own visible jobs, OpenAI list semantics: ordered by creation, cursor `after` is a
     * video id. Ties on created_at are broken by the row id (bytewise, as SQLite) so pages never
     * skip or repeat.
     */
    async listVideosForKeys(keyIds, opts) {
      const visible = and(inArray(jobs.keyId, keyIds), isNotNull(jobs.videoId), isNull(jobs.deletedAt));
      let cursor: SQL | undefined;
      if (opts.after) {
        const a = opts.after;
        cursor =
          opts.order === 'desc'
            ? or(lt(jobs.createdAt, a.createdAt), and(eq(jobs.createdAt, a.createdAt), sql`${idC} < ${a.id}`))
            : or(gt(jobs.createdAt, a.createdAt), and(eq(jobs.createdAt, a.createdAt), sql`${idC} > ${a.id}`));
      }
      const dir = opts.order === 'desc' ? desc : asc;
      return db
        .select()
        .from(jobs)
        .where(and(visible, cursor))
        .orderBy(dir(jobs.createdAt), dir(idC))
        .limit(opts.limit);
    },

    /**
     * A fresh non-terminal observation that changes something: status, progress, or failures to
     * clear. One that changes nothing is skipped while the job is not yet due (as on SQLite; note
     * that a NULL next_poll_at makes the skip condition NULL, so such a job is not written either).
     */
    async recordProgress(jobId, s, now) {
      await recordProgressStmt.execute({ id: jobId, status: s.status, progress: s.progress, nextPollAt: s.nextPollAt, now });
    },

    /**
     * A poll of a running job that was due saw nothing new: only its next poll time moves on.
     * Collected per process and written together at most once a second, as on SQLite (see
     * src/db/jobs-store.ts); one that is lost only means an extra upstream poll.
     */
    async deferPollSchedule(jobId, nextPollAt, now) {
      const queued = scheduleMoves.get(jobId);
      if (queued === undefined || queued < nextPollAt) scheduleMoves.set(jobId, nextPollAt);
      if (now - scheduleWrittenAt >= POLL_SCHEDULE_FLUSH_MS) await flushPollSchedule(now);
    },

    flushPollSchedule,

    /** A transient poll failure: back off, keep the job open. */
    async recordPollFailure(jobId, nextPollAt, now) {
      await db
        .update(jobs)
        .set({ pollFailures: sql`${jobs.pollFailures} + 1`, nextPollAt, claimedBy: null, claimUntil: null, updatedAt: now })
        .where(and(eq(jobs.id, jobId), submittedAndOpen));
    },

    /**
     * The upstream said 404. Consecutive 404s count only when at least `spacingMs` apart; returns
     * the count after this observation. One UPDATE … RETURNING: its SET expressions all read the
     * row as it was, and the row lock orders concurrent observations.
     */
    async recordNotFound(jobId, now, spacingMs, nextPollAt) {
      const counts = sql`(${jobs.lastNotFoundAt} is null or ${now}::bigint - ${jobs.lastNotFoundAt} >= ${spacingMs}::bigint)`;
      const [row] = await db
        .update(jobs)
        .set({
          notFoundCount: sql`case when ${counts} then ${jobs.notFoundCount} + 1 else ${jobs.notFoundCount} end`,
          lastNotFoundAt: sql`case when ${counts} then ${now}::bigint else ${jobs.lastNotFoundAt} end`,
          nextPollAt,
          claimedBy: null,
          claimUntil: null,
          updatedAt: now,
        })
        .where(eq(jobs.id, jobId))
        .returning({ n: jobs.notFoundCount });
      return row?.n ?? 0;
    },

    async markDeleted(jobId, now) {
      await db.update(jobs).set({ deletedAt: now, updatedAt: now }).where(eq(jobs.id, jobId));
    },

    /** Open jobs with a video id whose next poll is due, oldest first. */
    async jobsDueForPoll(now, limit) {
      return db
        .select()
        .from(jobs)
        .where(and(submittedAndOpen, isNotNull(jobs.videoId), lte(jobs.nextPollAt, now)))
        .orderBy(asc(jobs.nextPollAt))
        .limit(limit);
    },

    /** Open jobs older than the maximum job age. */
    async openJobsCreatedBefore(at, limit) {
      return db
        .select()
        .from(jobs)
        .where(and(inArray(jobs.status, [...OPEN_STATUSES]), lt(jobs.createdAt, at)))
        .limit(limit);
    },

    /** Open jobs and the money they hold, for /metrics (count and sum converted to numbers). */
    async openHoldTotals() {
      const [row] = await db
        .select({ jobs: count(), heldMicros: sum(jobs.heldMicros).mapWith(Number) })
        .from(jobs)
        .where(inArray(jobs.status, [...OPEN_STATUSES]));
      return { jobs: row.jobs, heldMicros: row.heldMicros ?? 0 };
    },

    async countOpenJobsDue(now) {
      const [row] = await db
        .select({ n: count() })
        .from(jobs)
        .where(and(inArray(jobs.status, [...OPEN_STATUSES]), or(isNull(jobs.nextPollAt), lte(jobs.nextPollAt, now))));
      return row.n;
    },
  };
}
