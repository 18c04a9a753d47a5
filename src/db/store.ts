import type { Database_ } from './client.js';
import { keysStore } from './keys-store.js';
import { billingStore } from './billing-store.js';
import { jobsStore } from './jobs-store.js';
import { requestLogStore } from './request-log-store.js';
import { idempotencyStore } from './idempotency-store.js';
import { auditStore } from './audit-store.js';
import { charactersStore } from './characters-store.js';
import { adminStore } from './admin-store.js';
import { usageStore } from './usage-store.js';
import { dashboardStore } from './dashboard-store.js';
import { metricsStore } from './metrics-store.js';
import { JobRowCache } from './job-row-cache.js';

/**
 * Every query the application makes, as whole units of work. This is the seam where a PostgreSQL
 * implementation will sit beside the SQLite one: routes and domain code only see `Store`.
 */
export function createStore(database: Database_) {
  // Shared by the two stores that write job rows, so that every write drops the row it changed.
  const jobRows = new JobRowCache();
  return {
    ...keysStore(database),
    ...billingStore(database, jobRows),
    ...jobsStore(database, jobRows),
    ...requestLogStore(database),
    ...idempotencyStore(database),
    ...auditStore(database),
    ...charactersStore(database),
    ...adminStore(database),
    ...usageStore(database),
    ...dashboardStore(database),
    ...metricsStore(database),
    /**
     * Runs `work` as one BEGIN IMMEDIATE transaction: the store calls inside it commit together or
     * not at all (their own transactions become savepoints). `work` must be synchronous.
     */
    transaction<T>(work: () => T): T {
      return database.sqlite.transaction(work).immediate();
    },
    /** Cheap liveness probe for /healthz. */
    ping(): boolean {
      return database.sqlite.prepare('select 1 as ok').get() !== undefined;
    },
  };
}

export type Store = ReturnType<typeof createStore>;
