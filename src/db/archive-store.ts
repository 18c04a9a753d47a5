import { and, asc, eq, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { Database_, Db } from './client.js';
import { archiveTasks } from './schema/index.js';
import type { ArchiveTaskRow, JobRow } from '../store/rows.js';
import type { ArchiveOrder } from '../store/types.js';
import type { ArchiveTaskPatch } from '../store/store.js';

/**
 * Writes a completed job's archive task. Called by settleJob inside its transaction, so the task
 * exists exactly when the completion does (design.md, "Side effects after a settlement go through
 * an outbox").
 */
export function insertArchiveTask(tx: Pick<Db, 'insert'>, job: Pick<JobRow, 'id' | 'videoId'>, order: ArchiveOrder, completedAt: number, now: number): void {
  if (!job.videoId) return;
  tx.insert(archiveTasks)
    .values({ jobId: job.id, videoId: job.videoId, state: 'pending', nextAttemptAt: now, upstreamExpiresAt: order.upstreamExpiresAt, completedAt, createdAt: now, updatedAt: now })
    .onConflictDoNothing()
    .run();
}

/** The columns an ArchiveTaskPatch sets. */
export function archivePatchColumns(patch: ArchiveTaskPatch, now: number): Partial<ArchiveTaskRow> {
  const { release, ...rest } = patch;
  const set: Partial<ArchiveTaskRow> = { ...rest, updatedAt: now };
  if (release) {
    set.claimedBy = null;
    set.claimUntil = null;
  }
  return set;
}

/** The archive's outbox on SQLite: each unit is one statement (claims: one UPDATE … RETURNING under the write lock). */
export function archiveStore({ db, sqlite }: Database_) {
  const claimStmt = sqlite.prepare(`
    update archive_tasks set claimed_by = @instanceId, claim_until = @claimUntil, updated_at = @now
    where job_id in (
      select job_id from archive_tasks
      where state = 'pending' and next_attempt_at <= @now
        and (claimed_by is null or claim_until <= @now or not exists (
          select 1 from instances i where i.id = archive_tasks.claimed_by and i.stopped_at is null and i.heartbeat_at >= @deadBefore))
      order by next_attempt_at
      limit @limit)
    returning job_id`);

  return {
    claimArchiveTasks(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): ArchiveTaskRow[] {
      const ids = (claimStmt.all(r) as { job_id: string }[]).map((row) => row.job_id);
      if (ids.length === 0) return [];
      return db.select().from(archiveTasks).where(inArray(archiveTasks.jobId, ids)).orderBy(asc(archiveTasks.nextAttemptAt)).all();
    },

    updateArchiveTask(jobId: string, holder: string, patch: ArchiveTaskPatch, now: number): boolean {
      return (
        db
          .update(archiveTasks)
          .set(archivePatchColumns(patch, now))
          .where(and(eq(archiveTasks.jobId, jobId), eq(archiveTasks.state, 'pending'), eq(archiveTasks.claimedBy, holder)))
          .run().changes === 1
      );
    },

    getArchiveTask(jobId: string): ArchiveTaskRow | undefined {
      return db.select().from(archiveTasks).where(eq(archiveTasks.jobId, jobId)).get();
    },

    getArchiveTasks(jobIds: string[]): ArchiveTaskRow[] {
      if (jobIds.length === 0) return [];
      return db.select().from(archiveTasks).where(inArray(archiveTasks.jobId, jobIds)).all();
    },

    markArchiveDeleted(jobId: string, now: number): ArchiveTaskRow | undefined {
      return sqlite
        .transaction(() => {
          const before = db.select().from(archiveTasks).where(and(eq(archiveTasks.jobId, jobId), ne(archiveTasks.state, 'deleted'))).get();
          if (!before) return undefined;
          db.update(archiveTasks)
            .set({ state: 'deleted', deletedAt: now, updatedAt: now, claimedBy: null, claimUntil: null })
            .where(eq(archiveTasks.jobId, jobId))
            .run();
          return before;
        })
        .immediate();
    },

    markArchivePurged(jobId: string, now: number): void {
      db.update(archiveTasks).set({ purgedAt: now, updatedAt: now }).where(and(eq(archiveTasks.jobId, jobId), eq(archiveTasks.state, 'deleted'))).run();
    },

    archiveTasksToPurge(completedBefore: number, limit: number): ArchiveTaskRow[] {
      return db
        .select()
        .from(archiveTasks)
        .where(
          or(
            and(eq(archiveTasks.state, 'deleted'), isNull(archiveTasks.purgedAt)),
            and(ne(archiveTasks.state, 'deleted'), lt(archiveTasks.completedAt, completedBefore)),
          ),
        )
        .orderBy(asc(archiveTasks.completedAt))
        .limit(limit)
        .all();
    },

    archiveQueueLength(): number {
      return db.select({ n: sql<number>`count(*)` }).from(archiveTasks).where(eq(archiveTasks.state, 'pending')).get()!.n;
    },
  };
}
