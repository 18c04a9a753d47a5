import { and, desc, eq, inArray, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { idempotencyKeys, instances, jobs } from './schema/index.js';
import type { InstanceRow, JobRow } from '../store/rows.js';
import type { JobRowCache } from './job-row-cache.js';

/**
 * Instance liveness and the reconciler's leases on SQLite. Several processes may share one SQLite
 * file (the README allows it); each write here is one statement or one BEGIN IMMEDIATE
 * transaction, so they are serialised by SQLite's write lock.
 */
export function coordinationStore({ db, sqlite }: Database_, cache: JobRowCache) {
  /** A pending job's instance is dead: stopped, silent too long, unknown, or never recorded. */
  const deadInstance = (deadBefore: number) => sql`(${jobs.instanceId} is null or not exists (
      select 1 from ${instances} where ${instances.id} = ${jobs.instanceId}
        and ${instances.stoppedAt} is null and ${instances.heartbeatAt} >= ${deadBefore}))`;

  // One statement: choose the due, unleased jobs and lease them. SQLite runs it under its write
  // lock, so two processes can never lease the same job.
  const claimStmt = sqlite.prepare(`
    update jobs set claimed_by = @instanceId, claim_until = @claimUntil
    where id in (
      select id from jobs
      where status in ('queued', 'in_progress') and video_id is not null and next_poll_at <= @now
        and (claimed_by is null or claim_until <= @now or not exists (
          select 1 from instances i where i.id = jobs.claimed_by and i.stopped_at is null and i.heartbeat_at >= @deadBefore))
      order by next_poll_at
      limit @limit)
    returning id`);

  return {
    heartbeat(instance: { id: string; host: string; pid: number; version: string; startedAt: number }, now: number): void {
      db.insert(instances)
        .values({ ...instance, heartbeatAt: now, stoppedAt: null })
        // A process restarted under the same INSTANCE_ID (after a clean stop or a crash) is alive
        // again: clear its stop mark, or its peers would take over its work while it runs.
        .onConflictDoUpdate({ target: instances.id, set: { heartbeatAt: now, stoppedAt: null, host: instance.host, pid: instance.pid, version: instance.version, startedAt: instance.startedAt } })
        .run();
    },

    markInstanceStopped(id: string, now: number): void {
      db.update(instances).set({ stoppedAt: now, heartbeatAt: now }).where(eq(instances.id, id)).run();
    },

    disownEarlierWork(id: string, startedAt: number): { jobs: number; claims: number; leases: number } {
      return sqlite.transaction(() => {
        const pending = db
          .update(jobs)
          .set({ instanceId: null })
          .where(and(eq(jobs.instanceId, id), eq(jobs.status, 'pending'), lt(jobs.createdAt, startedAt)))
          .returning({ id: jobs.id })
          .all();
        const claims = db
          .update(idempotencyKeys)
          .set({ instanceId: null })
          .where(and(eq(idempotencyKeys.instanceId, id), eq(idempotencyKeys.state, 'in_flight'), lt(idempotencyKeys.createdAt, startedAt)))
          .returning({ keyId: idempotencyKeys.keyId })
          .all();
        const leases = db.update(jobs).set({ claimedBy: null, claimUntil: null }).where(eq(jobs.claimedBy, id)).returning({ id: jobs.id }).all();
        for (const row of [...pending, ...leases]) cache.forget(row.id);
        return { jobs: pending.length, claims: claims.length, leases: leases.length };
      }).immediate();
    },

    listInstances(): InstanceRow[] {
      return db.select().from(instances).orderBy(desc(instances.heartbeatAt)).all();
    },

    purgeInstances(before: number): number {
      const quiet = or(lt(instances.heartbeatAt, before), and(isNotNull(instances.stoppedAt), lt(instances.stoppedAt, before)));
      const holdsNothing = sql`not exists (select 1 from ${jobs} where ${jobs.instanceId} = ${instances.id} and ${jobs.status} = 'pending')`;
      return db.delete(instances).where(and(quiet, holdsNothing)).run().changes;
    },

    pendingJobsOfDeadInstances(r: { deadBefore: number; self: string; selfStaleBefore: number; limit: number }): JobRow[] {
      const ownAndStale = sql`(${jobs.instanceId} = ${r.self} and ${jobs.createdAt} < ${r.selfStaleBefore})`;
      const othersAndDead = sql`(${jobs.instanceId} is not ${r.self} and ${deadInstance(r.deadBefore)})`;
      return db
        .select()
        .from(jobs)
        .where(and(eq(jobs.status, 'pending'), sql`(${ownAndStale} or ${othersAndDead})`))
        .orderBy(jobs.createdAt)
        .limit(r.limit)
        .all();
    },

    claimDueJobs(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): JobRow[] {
      const ids = (claimStmt.all(r) as { id: string }[]).map((row) => row.id);
      if (ids.length === 0) return [];
      for (const id of ids) cache.forget(id);
      const rows = db.select().from(jobs).where(inArray(jobs.id, ids)).all();
      // Most overdue first, as chosen.
      return rows.sort((a, b) => (a.nextPollAt ?? 0) - (b.nextPollAt ?? 0));
    },
  };
}
