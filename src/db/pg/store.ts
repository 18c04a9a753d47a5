import type { PgDatabase } from './client.js';
import type { Store } from '../../store/store.js';
import { pgKeysStore } from './keys-store.js';
import { pgBillingStore } from './billing-store.js';
import { pgJobsStore } from './jobs-store.js';
import { pgIdempotencyStore } from './idempotency-store.js';
import { pgAuditStore } from './audit-store.js';
import { pgCharactersStore } from './characters-store.js';
import { pgRequestLogStore } from './request-log-store.js';
import { pgAdminStore } from './admin-store.js';
import { pgUsageStore } from './usage-store.js';
import { pgDashboardStore } from './dashboard-store.js';
import { pgMetricsStore } from './metrics-store.js';
import { pgCoordinationStore } from './coordination-store.js';
import { pgSharedStateStore } from './shared-state-store.js';
import { pgLedgerCheck } from './ledger-check.js';
import { pgWebhooksStore } from './webhooks-store.js';
import { pgArchiveStore } from './archive-store.js';
import { pgUpstreamsStore } from './upstreams-store.js';

/**
 * The PostgreSQL engine behind the async Store interface. Each unit of work is one statement or
 * one transaction written for READ COMMITTED (see design.md, "Storage has two engines").
 */
export function createPgStore(database: PgDatabase): Store {
  return {
    ...pgKeysStore(database),
    ...pgBillingStore(database),
    ...pgJobsStore(database),
    ...pgIdempotencyStore(database),
    ...pgAuditStore(database),
    ...pgCharactersStore(database),
    ...pgRequestLogStore(database),
    ...pgAdminStore(database),
    ...pgUsageStore(database),
    ...pgDashboardStore(database),
    ...pgMetricsStore(database),
    ...pgCoordinationStore(database),
    ...pgSharedStateStore(database),
    ...pgLedgerCheck(database),
    ...pgWebhooksStore(database),
    ...pgArchiveStore(database),
    ...pgUpstreamsStore(database),
    async ping(): Promise<boolean> {
      await database.pool.query('select 1');
      return true;
    },
  };
}
