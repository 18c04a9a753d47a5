import { and, eq, gte, inArray, ne, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { jobs, upstreamHealth } from './schema/index.js';
import { OPEN_STATUSES, type UpstreamHealthRow } from '../store/rows.js';
import { emptyHealth, nextHealth, FAILURES_BEFORE_COOLDOWN, type CreateResult } from '../relay/health.js';

const immediate = { behavior: 'immediate' } as const;
/** Statuses that count as a failed job in an upstream's 24 h figures. */
export const FAILED_JOB_STATUSES = ['failed', 'expired', 'unknown'] as const;

/** Upstream health and capacity (contract §10), shared by every instance on the database. */
export function upstreamsStore({ db }: Database_) {
  const get = (id: string) => db.select().from(upstreamHealth).where(eq(upstreamHealth.id, id)).get();
  const put = (row: UpstreamHealthRow) =>
    db.insert(upstreamHealth).values(row).onConflictDoUpdate({ target: upstreamHealth.id, set: { ...row } }).run();
  return {
    listUpstreamHealth(): UpstreamHealthRow[] {
      return db.select().from(upstreamHealth).all();
    },

    /** A create's result, applied to the shared row in one transaction (see nextHealth). */
    recordUpstreamCreate(id: string, result: CreateResult, now: number): UpstreamHealthRow {
      return db.transaction(() => {
        const row = nextHealth(get(id), id, result, now);
        put(row);
        return row;
      }, immediate);
    },

    /** Claims the one trial create of an upstream whose cooldown ended; false when another instance has it. */
    claimUpstreamTrial(id: string, now: number, until: number): boolean {
      return (
        db
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
          .run().changes === 1
      );
    },

    /** An admin's enable (true), disable (false) or return to the file's setting (null); createStore adds the audit entry. */
    putUpstreamManual(id: string, enabled: boolean | null, by: string, now: number): UpstreamHealthRow {
      const row = { ...(get(id) ?? emptyHealth(id, now)), manualEnabled: enabled, manualBy: by, updatedAt: now };
      put(row);
      return row;
    },

    /** Open jobs (pending, queued, in progress) per upstream. */
    openJobsByUpstream(): { upstreamId: string; n: number }[] {
      return db
        .select({ upstreamId: jobs.upstreamId, n: sql<number>`count(*)` })
        .from(jobs)
        .where(inArray(jobs.status, [...OPEN_STATUSES]))
        .groupBy(jobs.upstreamId)
        .all();
    },

    /**
     * Moves a pending job to `upstreamId` when that upstream has fewer than `maxInflightJobs` other
     * open jobs (null: no limit), as one BEGIN IMMEDIATE transaction, so instances sharing the
     * database can never overfill it together.
     */
    assignJobUpstream(jobId: string, upstreamId: string, maxInflightJobs: number | null, now: number): boolean {
      return db.transaction(() => {
        if (maxInflightJobs !== null) {
          const open = db
            .select({ n: sql<number>`count(*)` })
            .from(jobs)
            .where(and(eq(jobs.upstreamId, upstreamId), inArray(jobs.status, [...OPEN_STATUSES]), ne(jobs.id, jobId)))
            .get()!.n;
          if (open >= maxInflightJobs) return false;
        }
        return db.update(jobs).set({ upstreamId, updatedAt: now }).where(and(eq(jobs.id, jobId), eq(jobs.status, 'pending'))).run().changes === 1;
      }, immediate);
    },

    upstreamCompletionTimes(since: number, limit: number): { upstreamId: string; ms: number }[] {
      return db
        .select({ upstreamId: jobs.upstreamId, ms: sql<number>`${jobs.completedAt} - ${jobs.createdAt}` })
        .from(jobs)
        .where(and(eq(jobs.status, 'completed'), gte(jobs.createdAt, since), sql`${jobs.completedAt} is not null`))
        .orderBy(sql`${jobs.createdAt} desc`)
        .limit(limit)
        .all();
    },

    /** Jobs each upstream took since `since`, and how many of them failed, expired or ended unknown. */
    upstreamJobStats(since: number): { upstreamId: string; jobs: number; failed: number }[] {
      return db
        .select({
          upstreamId: jobs.upstreamId,
          jobs: sql<number>`count(*)`,
          failed: sql<number>`coalesce(sum(case when ${inArray(jobs.status, [...FAILED_JOB_STATUSES])} then 1 else 0 end), 0)`,
        })
        .from(jobs)
        .where(and(gte(jobs.createdAt, since), ne(jobs.status, 'rejected')))
        .groupBy(jobs.upstreamId)
        .all();
    },
  };
}
