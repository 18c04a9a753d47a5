import { and, desc, eq, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { idempotencyKeys, instances, jobs } from './schema/index.js';
import type { InstanceRow, JobRow } from '../../store/rows.js';

/**
 * Instance liveness and the reconciler's leases on PostgreSQL, where several instances really do
 * run at once: leases are taken with FOR UPDATE SKIP LOCKED, so two instances leasing at the same
 * moment each get different jobs and neither waits for the other.
 */
export function pgCoordinationStore({ db }: PgDatabase) {
  /** The job's holder (`col`) is a live instance: a heartbeat since `deadBefore`, not stopped. */
  const liveInstance = (col: typeof jobs.instanceId | typeof jobs.claimedBy, deadBefore: number) => sql`exists (
      select 1 from ${instances} where ${instances.id} = ${col}
        and ${instances.stoppedAt} is null and ${instances.heartbeatAt} >= ${deadBefore})`;

  return {
    async heartbeat(instance: { id: string; host: string; pid: number; version: string; startedAt: number }, now: number): Promise<void> {
      await db
        .insert(instances)
        .values({ ...instance, heartbeatAt: now, stoppedAt: null })
        // A process restarted under the same INSTANCE_ID (after a clean stop or a crash) is alive
        // again: clear its stop mark, or its peers would take over its work while it runs.
        .onConflictDoUpdate({ target: instances.id, set: { heartbeatAt: now, stoppedAt: null, host: instance.host, pid: instance.pid, version: instance.version, startedAt: instance.startedAt } });
    },

    async markInstanceStopped(id: string, now: number): Promise<void> {
      await db.update(instances).set({ stoppedAt: now, heartbeatAt: now }).where(eq(instances.id, id));
    },

    async disownEarlierWork(id: string, startedAt: number): Promise<{ jobs: number; claims: number; leases: number }> {
      return db.transaction(async (tx) => {
        const pending = await tx
          .update(jobs)
          .set({ instanceId: null })
          .where(and(eq(jobs.instanceId, id), eq(jobs.status, 'pending'), lt(jobs.createdAt, startedAt)))
          .returning({ id: jobs.id });
        const claims = await tx
          .update(idempotencyKeys)
          .set({ instanceId: null })
          .where(and(eq(idempotencyKeys.instanceId, id), eq(idempotencyKeys.state, 'in_flight'), lt(idempotencyKeys.createdAt, startedAt)))
          .returning({ keyId: idempotencyKeys.keyId });
        const leases = await tx.update(jobs).set({ claimedBy: null, claimUntil: null }).where(eq(jobs.claimedBy, id)).returning({ id: jobs.id });
        return { jobs: pending.length, claims: claims.length, leases: leases.length };
      });
    },

    async listInstances(): Promise<InstanceRow[]> {
      return db.select().from(instances).orderBy(desc(instances.heartbeatAt));
    },

    async purgeInstances(before: number): Promise<number> {
      const quiet = or(lt(instances.heartbeatAt, before), and(isNotNull(instances.stoppedAt), lt(instances.stoppedAt, before)));
      const holdsNothing = sql`not exists (select 1 from ${jobs} where ${jobs.instanceId} = ${instances.id} and ${jobs.status} = 'pending')`;
      const gone = await db.delete(instances).where(and(quiet, holdsNothing)).returning({ id: instances.id });
      return gone.length;
    },

    async pendingJobsOfDeadInstances(r: { deadBefore: number; self: string; selfStaleBefore: number; limit: number }): Promise<JobRow[]> {
      const ownAndStale = sql`(${jobs.instanceId} = ${r.self} and ${jobs.createdAt} < ${r.selfStaleBefore})`;
      const othersAndDead = sql`(${jobs.instanceId} is distinct from ${r.self}
        and (${jobs.instanceId} is null or not ${liveInstance(jobs.instanceId, r.deadBefore)}))`;
      return db
        .select()
        .from(jobs)
        .where(and(eq(jobs.status, 'pending'), sql`(${ownAndStale} or ${othersAndDead})`))
        .orderBy(jobs.createdAt)
        .limit(r.limit);
    },

    async claimDueJobs(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): Promise<JobRow[]> {
      // The inner select locks the rows it picks and skips rows another instance is leasing right
      // now; the update then leases exactly those rows. READ COMMITTED re-checks the WHERE of the
      // locked rows, so a job another instance leased a moment ago is not taken.
      const claimable = sql`${jobs.id} in (
        select ${jobs.id} from ${jobs}
        where ${jobs.status} in ('queued', 'in_progress') and ${jobs.videoId} is not null and ${jobs.nextPollAt} <= ${r.now}
          and (${jobs.claimedBy} is null or ${jobs.claimUntil} <= ${r.now} or not ${liveInstance(jobs.claimedBy, r.deadBefore)})
        order by ${jobs.nextPollAt}
        limit ${r.limit}
        for update skip locked)`;
      const rows = await db.update(jobs).set({ claimedBy: r.instanceId, claimUntil: r.claimUntil }).where(claimable).returning();
      return rows.sort((a, b) => (a.nextPollAt ?? 0) - (b.nextPollAt ?? 0));
    },
  };
}
