import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { jobs } from './schema/index.js';
import { OPEN_STATUSES, type JobRow } from './billing-store.js';
import type { JobRowCache } from './job-row-cache.js';

/** Deferred poll-schedule moves are written at least this often while polls keep coming. */
export const POLL_SCHEDULE_FLUSH_MS = 1000;

/**
 * Job reads and the non-money updates of a job's progress. Every update drops the job's cached row.
 * A poll's result (progress, schedule, a failed poll) is written without a disk sync of its own
 * (withoutSync): it survives the process crashing, and what an OS crash or power cut loses is
 * only the next poll's timing, never money (settlements and holds always sync). With thousands of
 * running jobs the reconciler writes one of these per poll; a sync each held it to the disk's
 * fsync rate (about 130 polls/s here, below the 167/s that 10,000 jobs polled once a minute need).
 */
export function jobsStore({ db, withoutSync }: Database_, cache: JobRowCache) {
  // Video ids are unique per upstream only: a key's own job for an id, else (admin) the newest.
  const byVideo = db.select().from(jobs).where(eq(jobs.videoId, sql.placeholder('videoId'))).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(1).prepare();
  const byKeyVideo = db
    .select()
    .from(jobs)
    .where(and(eq(jobs.videoId, sql.placeholder('videoId')), eq(jobs.keyId, sql.placeholder('keyId'))))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(1)
    .prepare();
  const byId = db.select().from(jobs).where(eq(jobs.id, sql.placeholder('id'))).prepare();
  // A running job whose last poll went through: no failures or 404s counted that a write must clear.
  const pollsClean = sql`${jobs.pollFailures} = 0 and ${jobs.notFoundCount} = 0 and ${jobs.lastNotFoundAt} is null`;
  const submittedAndOpen = inArray(jobs.status, ['queued', 'in_progress']);
  const recordProgressStmt = db
    .update(jobs)
    .set({
      status: sql`${sql.placeholder('status')}`,
      progress: sql`${sql.placeholder('progress')}`,
      nextPollAt: sql`${sql.placeholder('nextPollAt')}`,
      pollFailures: 0,
      notFoundCount: 0,
      lastNotFoundAt: null,
      claimedBy: null,
      claimUntil: null,
      updatedAt: sql`${sql.placeholder('now')}`,
    })
    .where(
      and(
        eq(jobs.id, sql.placeholder('id')),
        submittedAndOpen,
        sql`not (${jobs.status} = ${sql.placeholder('status')} and ${jobs.progress} is ${sql.placeholder('progress')}
          and ${pollsClean} and ${jobs.nextPollAt} > ${sql.placeholder('now')})`,
      ),
    )
    .prepare();

  const moveScheduleStmt = db
    .update(jobs)
    .set({ nextPollAt: sql`${sql.placeholder('nextPollAt')}`, claimedBy: null, claimUntil: null, updatedAt: sql`${sql.placeholder('now')}` })
    .where(
      and(
        eq(jobs.id, sql.placeholder('id')),
        submittedAndOpen,
        pollsClean,
        sql`(${jobs.nextPollAt} is null or ${jobs.nextPollAt} < ${sql.placeholder('nextPollAt')})`,
      ),
    )
    .prepare();
  /** Job id → the next poll time a poll that saw nothing new moved it to, not yet written. */
  const scheduleMoves = new Map<string, number>();
  let scheduleWrittenAt = Number.NEGATIVE_INFINITY;

  /** Writes the deferred schedule moves in one transaction (one disk sync for all of them). */
  const flushPollSchedule = (now: number): void => {
    scheduleWrittenAt = now;
    if (scheduleMoves.size === 0) return;
    const moves = [...scheduleMoves];
    scheduleMoves.clear();
    withoutSync(() =>
      db.transaction(
        () => {
          for (const [id, nextPollAt] of moves) {
            if (moveScheduleStmt.run({ id, nextPollAt, now }).changes > 0) cache.forget(id);
          }
        },
        { behavior: 'immediate' },
      ),
    );
  };

  return {
    getJob(id: string): JobRow | undefined {
      return byId.get({ id });
    },
    getJobByVideoId(videoId: string, keyId?: string): JobRow | undefined {
      return keyId === undefined ? byVideo.get({ videoId }) : byKeyVideo.get({ videoId, keyId });
    },
    /**
     * getJobByVideoId for the /v1 routes: the row is reused for a moment (see JobRowCache), so a
     * client polling a video many times a second costs no query per poll.
     */
    getJobForRequest(keyId: string, videoId: string): JobRow | undefined {
      const hit = cache.get(keyId, videoId);
      if (hit) return hit;
      const row = byKeyVideo.get({ videoId, keyId });
      if (row) cache.set(row);
      return row;
    },

    /**
     * A key's own visible jobs, OpenAI list semantics: ordered by creation, cursor `after` is a
     * video id. Ties on created_at are broken by the row id so pages never skip or repeat.
     */
    listVideosForKeys(keyIds: string[], opts: { after?: JobRow; limit: number; order: 'asc' | 'desc' }): JobRow[] {
      const visible = and(inArray(jobs.keyId, keyIds), isNotNull(jobs.videoId), isNull(jobs.deletedAt));
      let cursor: SQL | undefined;
      if (opts.after) {
        const a = opts.after;
        cursor =
          opts.order === 'desc'
            ? or(lt(jobs.createdAt, a.createdAt), and(eq(jobs.createdAt, a.createdAt), lt(jobs.id, a.id)))
            : or(gt(jobs.createdAt, a.createdAt), and(eq(jobs.createdAt, a.createdAt), gt(jobs.id, a.id)));
      }
      const dir = opts.order === 'desc' ? desc : asc;
      return db
        .select()
        .from(jobs)
        .where(and(visible, cursor))
        .orderBy(dir(jobs.createdAt), dir(jobs.id))
        .limit(opts.limit)
        .all();
    },

    /**
     * A fresh non-terminal observation from the upstream (status poll or reconciler) that changes
     * something: status, progress, or failures to clear. Settlement sends observations that change
     * nothing to deferPollSchedule instead; should one arrive here anyway (two polls racing), the
     * statement skips it while the job is not yet due, so it never costs a disk sync.
     */
    recordProgress(jobId: string, s: { status: 'queued' | 'in_progress'; progress: number | null; nextPollAt: number }, now: number): void {
      const { changes } = withoutSync(() => recordProgressStmt.run({ id: jobId, status: s.status, progress: s.progress, nextPollAt: s.nextPollAt, now }));
      if (changes > 0) cache.forget(jobId);
    },

    /**
     * A poll of a running job that was due saw nothing new (same status and progress, no failures
     * to clear): only its next poll time moves on, so the reconciler leaves the job alone. Such moves
     * are collected and written together at most once a second (POLL_SCHEDULE_FLUSH_MS), and before
     * every reconciler pass and at shutdown: with a hundred running jobs polled hard, writing each
     * one was a synced commit on the event loop every few milliseconds. Nothing depends on these
     * moves but the reconciler's schedule; one that is lost only means an extra upstream poll. The
     * write never moves a schedule back, and never touches a job that has since settled, failed a
     * poll or gone missing (those writes set their own next poll time).
     */
    deferPollSchedule(jobId: string, nextPollAt: number, now: number): void {
      const queued = scheduleMoves.get(jobId);
      if (queued === undefined || queued < nextPollAt) scheduleMoves.set(jobId, nextPollAt);
      if (now - scheduleWrittenAt >= POLL_SCHEDULE_FLUSH_MS) flushPollSchedule(now);
    },

    flushPollSchedule,

    /** A transient poll failure: back off, keep the job open. */
    recordPollFailure(jobId: string, nextPollAt: number, now: number): void {
      cache.forget(jobId);
      withoutSync(() =>
        db.update(jobs)
          .set({ pollFailures: sql`${jobs.pollFailures} + 1`, nextPollAt, claimedBy: null, claimUntil: null, updatedAt: now })
          .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'in_progress'])))
          .run(),
      );
    },

    /**
     * The upstream said 404. Consecutive 404s count only when at least `spacingMs` apart; returns the
     * count after this observation.
     */
    recordNotFound(jobId: string, now: number, spacingMs: number, nextPollAt: number): number {
      cache.forget(jobId);
      return db.transaction(
        (tx) => {
          const job = tx.select().from(jobs).where(eq(jobs.id, jobId)).get();
          if (!job) return 0;
          const counts = job.lastNotFoundAt === null || now - job.lastNotFoundAt >= spacingMs;
          const count = counts ? job.notFoundCount + 1 : job.notFoundCount;
          tx.update(jobs)
            .set({ notFoundCount: count, lastNotFoundAt: counts ? now : job.lastNotFoundAt, nextPollAt, claimedBy: null, claimUntil: null, updatedAt: now })
            .where(eq(jobs.id, jobId))
            .run();
          return count;
        },
        { behavior: 'immediate' },
      );
    },

    markDeleted(jobId: string, now: number): void {
      cache.forget(jobId);
      db.update(jobs).set({ deletedAt: now, updatedAt: now }).where(eq(jobs.id, jobId)).run();
    },

    /** Open jobs with a video id whose next poll is due, oldest first. */
    jobsDueForPoll(now: number, limit: number): JobRow[] {
      return db
        .select()
        .from(jobs)
        .where(and(inArray(jobs.status, ['queued', 'in_progress']), isNotNull(jobs.videoId), lte(jobs.nextPollAt, now)))
        .orderBy(asc(jobs.nextPollAt))
        .limit(limit)
        .all();
    },

    /** Open jobs older than the maximum job age. */
    openJobsCreatedBefore(at: number, limit: number): JobRow[] {
      return db
        .select()
        .from(jobs)
        .where(and(inArray(jobs.status, [...OPEN_STATUSES]), lt(jobs.createdAt, at)))
        .limit(limit)
        .all();
    },

    /** Open jobs (pending, queued, in progress) and the money they hold, for /metrics. */
    openHoldTotals(): { jobs: number; heldMicros: number } {
      const row = db
        .select({ jobs: sql<number>`count(*)`, heldMicros: sql<number | null>`sum(${jobs.heldMicros})` })
        .from(jobs)
        .where(inArray(jobs.status, [...OPEN_STATUSES]))
        .get()!;
      return { jobs: row.jobs, heldMicros: row.heldMicros ?? 0 };
    },

    countOpenJobsDue(now: number): number {
      return db
        .select({ n: sql<number>`count(*)` })
        .from(jobs)
        .where(and(inArray(jobs.status, [...OPEN_STATUSES]), or(isNull(jobs.nextPollAt), lte(jobs.nextPollAt, now))))
        .get()!.n;
    },

  };
}
