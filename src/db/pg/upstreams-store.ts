import { and, eq, gte, inArray, ne, sql } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { jobs, upstreamHealth } from './schema/index.js';
import { OPEN_STATUSES, type UpstreamHealthRow } from '../../store/rows.js';
import { emptyHealth, nextHealth, FAILURES_BEFORE_COOLDOWN } from '../../relay/health.js';
import { FAILED_JOB_STATUSES } from '../upstreams-store.js';
import { insertAudit } from './audit-store.js';
import type { UpstreamsStore } from '../../store/store.js';

/**
 * Upstream health and capacity on PostgreSQL; the same units as src/db/upstreams-store.ts. Each
 * read-modify-write locks the upstream's health row first (creating it if need be), so concurrent
 * instances apply their results one after the other.
 */
export function pgUpstreamsStore({ db }: PgDatabase): UpstreamsStore {
  type Tx = Parameters<Parameters<typeof db.transaction>[0]>[0];
  const lockRow = async (tx: Tx, id: string, now: number): Promise<UpstreamHealthRow> => {
    await tx.insert(upstreamHealth).values(emptyHealth(id, now)).onConflictDoNothing();
    const [row] = await tx.select().from(upstreamHealth).where(eq(upstreamHealth.id, id)).for('update');
    return row!;
  };
  const write = (tx: Tx, row: UpstreamHealthRow) => tx.update(upstreamHealth).set(row).where(eq(upstreamHealth.id, row.id));
  const n = (v: unknown) => Number(v);
  return {
    async listUpstreamHealth() {
      return db.select().from(upstreamHealth);
    },

    async recordUpstreamCreate(id, result, now) {
      return db.transaction(async (tx) => {
        const row = nextHealth(await lockRow(tx, id, now), id, result, now);
        await write(tx, row);
        return row;
      });
    },

    async claimUpstreamTrial(id, now, until) {
      const rows = await db
        .update(upstreamHealth)
        .set({ trialUntil: until, updatedAt: now })
        .where(
          and(
            eq(upstreamHealth.id, id),
            gte(upstreamHealth.consecutiveFailures, FAILURES_BEFORE_COOLDOWN),
            sql`(${upstreamHealth.cooldownUntil} is null or ${upstreamHealth.cooldownUntil} <= ${now})`,
            sql`(${upstreamHealth.trialUntil} is null or ${upstreamHealth.trialUntil} <= ${now})`,
          ),
        )
        .returning({ id: upstreamHealth.id });
      return rows.length === 1;
    },

    async setUpstreamEnabled(id, enabled, who, audit) {
      return db.transaction(async (tx) => {
        const row = { ...(await lockRow(tx, id, who.now)), manualEnabled: enabled, manualBy: who.actor, updatedAt: who.now };
        await write(tx, row);
        await insertAudit(tx, { ...who, ...audit });
        return row;
      });
    },

    async openJobsByUpstream() {
      const rows = await db
        .select({ upstreamId: jobs.upstreamId, n: sql<string>`count(*)` })
        .from(jobs)
        .where(inArray(jobs.status, [...OPEN_STATUSES]))
        .groupBy(jobs.upstreamId);
      return rows.map((r) => ({ upstreamId: r.upstreamId, n: n(r.n) }));
    },

    async assignJobUpstream(jobId, upstreamId, maxInflightJobs, now) {
      if (maxInflightJobs === null) {
        const rows = await db.update(jobs).set({ upstreamId, updatedAt: now }).where(and(eq(jobs.id, jobId), eq(jobs.status, 'pending'))).returning({ id: jobs.id });
        return rows.length === 1;
      }
      return db.transaction(async (tx) => {
        // The health row's lock serialises the count-then-move of every instance for this upstream.
        await lockRow(tx, upstreamId, now);
        const [open] = await tx
          .select({ n: sql<string>`count(*)` })
          .from(jobs)
          .where(and(eq(jobs.upstreamId, upstreamId), inArray(jobs.status, [...OPEN_STATUSES]), ne(jobs.id, jobId)));
        if (n(open!.n) >= maxInflightJobs) return false;
        const rows = await tx.update(jobs).set({ upstreamId, updatedAt: now }).where(and(eq(jobs.id, jobId), eq(jobs.status, 'pending'))).returning({ id: jobs.id });
        return rows.length === 1;
      });
    },

    async upstreamCompletionTimes(since, limit) {
      const rows = await db
        .select({ upstreamId: jobs.upstreamId, ms: sql<string>`${jobs.completedAt} - ${jobs.createdAt}` })
        .from(jobs)
        .where(and(eq(jobs.status, 'completed'), gte(jobs.createdAt, since), sql`${jobs.completedAt} is not null`))
        .orderBy(sql`${jobs.createdAt} desc`)
        .limit(limit);
      return rows.map((r) => ({ upstreamId: r.upstreamId, ms: n(r.ms) }));
    },

    async upstreamJobStats(since) {
      const rows = await db
        .select({
          upstreamId: jobs.upstreamId,
          jobs: sql<string>`count(*)`,
          failed: sql<string>`coalesce(sum(case when ${inArray(jobs.status, [...FAILED_JOB_STATUSES])} then 1 else 0 end), 0)`,
        })
        .from(jobs)
        .where(and(gte(jobs.createdAt, since), ne(jobs.status, 'rejected')))
        .groupBy(jobs.upstreamId);
      return rows.map((r) => ({ upstreamId: r.upstreamId, jobs: n(r.jobs), failed: n(r.failed) }));
    },
  };
}
