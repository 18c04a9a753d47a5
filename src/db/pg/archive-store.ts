import { and, asc, eq, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { PgDatabase, PgDb } from './client.js';
import { archiveTasks, instances } from './schema/index.js';
import type { ArchiveTaskRow, JobRow } from '../../store/rows.js';
import type { ArchiveOrder } from '../../store/types.js';
import type { ArchiveStore, ArchiveTaskPatch } from '../../store/store.js';
import { archivePatchColumns } from '../archive-store.js';

/** Writes a completed job's archive task inside settleJob's transaction (see src/db/archive-store.ts). */
export async function insertArchiveTask(tx: Pick<PgDb, 'insert'>, job: Pick<JobRow, 'id' | 'videoId'>, order: ArchiveOrder, completedAt: number, now: number): Promise<void> {
  if (!job.videoId) return;
  await tx
    .insert(archiveTasks)
    .values({ jobId: job.id, videoId: job.videoId, state: 'pending', nextAttemptAt: now, upstreamExpiresAt: order.upstreamExpiresAt, completedAt, createdAt: now, updatedAt: now })
    .onConflictDoNothing();
}

/** The archive's outbox on PostgreSQL: claims with FOR UPDATE SKIP LOCKED, like the reconciler's. */
export function pgArchiveStore({ db }: PgDatabase): ArchiveStore {
  const liveHolder = (deadBefore: number) => sql`exists (
      select 1 from ${instances} where ${instances.id} = ${archiveTasks.claimedBy}
        and ${instances.stoppedAt} is null and ${instances.heartbeatAt} >= ${deadBefore})`;

  return {
    async claimArchiveTasks(r) {
      // As claimDueJobs: the inner select locks the rows it picks and skips rows another instance
      // is claiming right now; READ COMMITTED re-checks the WHERE of the locked rows.
      const claimable = sql`${archiveTasks.jobId} in (
        select ${archiveTasks.jobId} from ${archiveTasks}
        where ${archiveTasks.state} = 'pending' and ${archiveTasks.nextAttemptAt} <= ${r.now}
          and (${archiveTasks.claimedBy} is null or ${archiveTasks.claimUntil} <= ${r.now} or not ${liveHolder(r.deadBefore)})
        order by ${archiveTasks.nextAttemptAt}
        limit ${r.limit}
        for update skip locked)`;
      const rows = await db.update(archiveTasks).set({ claimedBy: r.instanceId, claimUntil: r.claimUntil, updatedAt: r.now }).where(claimable).returning();
      return rows.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
    },

    async updateArchiveTask(jobId: string, holder: string, patch: ArchiveTaskPatch, now: number) {
      const rows = await db
        .update(archiveTasks)
        .set(archivePatchColumns(patch, now))
        .where(and(eq(archiveTasks.jobId, jobId), eq(archiveTasks.state, 'pending'), eq(archiveTasks.claimedBy, holder)))
        .returning({ jobId: archiveTasks.jobId });
      return rows.length === 1;
    },

    async getArchiveTask(jobId: string) {
      const [row] = await db.select().from(archiveTasks).where(eq(archiveTasks.jobId, jobId));
      return row;
    },

    async getArchiveTasks(jobIds: string[]) {
      if (jobIds.length === 0) return [];
      return db.select().from(archiveTasks).where(inArray(archiveTasks.jobId, jobIds));
    },

    async markArchiveDeleted(jobId: string, now: number): Promise<ArchiveTaskRow | undefined> {
      return db.transaction(async (tx) => {
        // Lock the row: of two concurrent deletes, one sees it not yet deleted.
        const [before] = await tx.select().from(archiveTasks).where(and(eq(archiveTasks.jobId, jobId), ne(archiveTasks.state, 'deleted'))).for('update');
        if (!before) return undefined;
        const moved = await tx
          .update(archiveTasks)
          .set({ state: 'deleted', deletedAt: now, updatedAt: now, claimedBy: null, claimUntil: null })
          .where(and(eq(archiveTasks.jobId, jobId), ne(archiveTasks.state, 'deleted')))
          .returning({ jobId: archiveTasks.jobId });
        return moved.length === 1 ? before : undefined;
      });
    },

    async markArchivePurged(jobId: string, now: number) {
      await db.update(archiveTasks).set({ purgedAt: now, updatedAt: now }).where(and(eq(archiveTasks.jobId, jobId), eq(archiveTasks.state, 'deleted')));
    },

    async archiveTasksToPurge(completedBefore: number, limit: number) {
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
        .limit(limit);
    },

    async archiveQueueLength() {
      const [row] = await db.select({ n: sql<string>`count(*)` }).from(archiveTasks).where(eq(archiveTasks.state, 'pending'));
      return Number(row?.n ?? 0);
    },
  };
}
