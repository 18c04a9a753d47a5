import { and, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { apiKeys, jobs } from './schema/index.js';
import { OPEN_STATUSES } from '../../store/rows.js';

/** PostgreSQL twin of src/db/metrics-store.ts: figures /metrics reads at scrape time (micro-USD). */
export function pgMetricsStore({ db }: PgDatabase) {
  return {
    /** Money held on all keys by open jobs (the sum of the keys' holds). */
    async heldMicrosTotal(): Promise<number> {
      const [r] = await db.select({ micros: sql<number | null>`sum(${apiKeys.heldMicros})`.mapWith(Number) }).from(apiKeys);
      return r?.micros ?? 0;
    },

    /**
     * How far behind its schedule the most overdue poll of an open job is, in ms: now minus the
     * earliest next poll time that has passed; 0 when no poll is overdue.
     */
    async reconcilerLagMs(now: number): Promise<number> {
      const [r] = await db
        .select({ at: sql<number | null>`min(${jobs.nextPollAt})`.mapWith(Number) })
        .from(jobs)
        .where(and(inArray(jobs.status, [...OPEN_STATUSES]), isNotNull(jobs.nextPollAt), lte(jobs.nextPollAt, now)));
      const at = r?.at ?? null;
      return at === null ? 0 : Math.max(0, now - at);
    },
  };
}
