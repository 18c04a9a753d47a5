import { and, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { apiKeys, jobs } from './schema/index.js';
import { OPEN_STATUSES } from './billing-store.js';

/** Read-only figures /metrics takes from the database at scrape time. Amounts stay in micro-USD. */
export function metricsStore({ db }: Database_) {
  const heldStmt = db.select({ micros: sql<number | null>`sum(${apiKeys.heldMicros})` }).from(apiKeys).prepare();
  // Served by jobs_status_poll_idx (status, next_poll_at).
  const oldestDueStmt = db
    .select({ at: sql<number | null>`min(${jobs.nextPollAt})` })
    .from(jobs)
    .where(and(inArray(jobs.status, [...OPEN_STATUSES]), isNotNull(jobs.nextPollAt), lte(jobs.nextPollAt, sql.placeholder('now'))))
    .prepare();

  return {
    /** Money held on all keys by open jobs (the sum of the keys' holds). */
    heldMicrosTotal(): number {
      return heldStmt.get()?.micros ?? 0;
    },

    /**
     * How far behind its schedule the most overdue poll of an open job is, in ms: now minus the
     * earliest next poll time that has passed; 0 when no poll is overdue.
     */
    reconcilerLagMs(now: number): number {
      const at = oldestDueStmt.get({ now })?.at ?? null;
      return at === null ? 0 : Math.max(0, now - at);
    },
  };
}
