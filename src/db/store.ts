import type { Database_ } from './client.js';
import type { AuditEntry, Store } from '../store/store.js';
import type { Actor, KeyPatch, NewKey, NewWebhookSecret, UpdatedKey } from '../store/types.js';
import type { KeyRow, LedgerRow, WebhookEventRow, UpstreamHealthRow } from '../store/rows.js';
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
import { coordinationStore } from './coordination-store.js';
import { sharedStateStore } from './shared-state-store.js';
import { ledgerCheck } from './ledger-check.js';
import { webhooksStore } from './webhooks-store.js';
import { archiveStore } from './archive-store.js';
import { JobRowCache } from './job-row-cache.js';
import { upstreamsStore } from './upstreams-store.js';

/**
 * The SQLite units of work, synchronous: each is one statement or one BEGIN IMMEDIATE
 * transaction. `createStore` below puts them behind the async Store interface.
 */
function createSyncStore(database: Database_) {
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
    ...coordinationStore(database, jobRows),
    ...sharedStateStore(database),
    ...ledgerCheck(database),
    ...webhooksStore(database),
    ...archiveStore(database),
    ...upstreamsStore(database),
    /** Cheap liveness probe for /healthz. */
    ping(): boolean {
      return database.sqlite.prepare('select 1 as ok').get() !== undefined;
    },
  };
}


/** Every function of `sync` as an async one. The work still runs at once, synchronously. */
type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never };

function asyncify<T extends object>(sync: T): Async<T> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(sync)) {
    if (typeof fn !== 'function') continue;
    out[name] = (...args: unknown[]) => {
      try {
        return Promise.resolve((fn as (...a: unknown[]) => unknown)(...args));
      } catch (err) {
        return Promise.reject(err);
      }
    };
  }
  return out as Async<T>;
}

/**
 * The SQLite engine behind the async Store interface. Its transactions stay synchronous inside
 * the async methods (better-sqlite3 is synchronous; they cost nothing there), so a unit of work
 * is still one BEGIN IMMEDIATE transaction. The units that write an admin change together with
 * its audit entry are composed here, in one transaction each.
 */
export function createStore(database: Database_): Store {
  const sync = createSyncStore(database);
  const inTransaction = <T>(work: () => T): T => database.sqlite.transaction(work).immediate();
  const audited = (who: Actor, entry: AuditEntry) => sync.appendAudit({ ...who, ...entry });
  const units = {
    createKey(
      key: NewKey,
      with_?: { who: Actor; credit?: { micros: number; note: string | null }; audit?: AuditEntry; webhookSecret?: NewWebhookSecret },
    ): UpdatedKey {
      return inTransaction(() => {
        sync.insertKey(key);
        const issued = key.webhookUrl ? sync.applyWebhookUrl(key.id, key.webhookUrl, with_?.webhookSecret, key.createdAt) : undefined;
        if (with_?.credit && with_.credit.micros !== 0) sync.appendCredit(key.id, with_.credit.micros, with_.credit.note, with_.who);
        if (with_?.audit) audited(with_.who, with_.audit);
        const row = sync.getKey(key.id)!;
        return issued === undefined ? row : { ...row, issuedWebhookSecret: issued };
      });
    },
    updateKey(id: string, patch: KeyPatch, audit?: { who: Actor; entry: AuditEntry }, webhookSecret?: NewWebhookSecret): UpdatedKey | undefined {
      return inTransaction(() => {
        if (!sync.getKey(id)) return undefined;
        const row = sync.updateKey(id, patch);
        const issued = patch.webhookUrl !== undefined ? sync.applyWebhookUrl(id, patch.webhookUrl, webhookSecret, audit?.who.now ?? Date.now()) : undefined;
        if (row && audit) audited(audit.who, audit.entry);
        return row && issued !== undefined ? { ...row, issuedWebhookSecret: issued } : row;
      });
    },
    rotateWebhookSecret(keyId: string, next: NewWebhookSecret, now: number, overlapMs: number, audit?: { who: Actor; entry: AuditEntry }): KeyRow | 'no_endpoint' | undefined {
      return inTransaction(() => {
        const row = sync.getKey(keyId);
        if (!row) return undefined;
        if (!sync.rotateSecret(keyId, next, now, overlapMs)) return 'no_endpoint' as const;
        if (audit) audited(audit.who, audit.entry);
        return row;
      });
    },
    requeueWebhookEvent(eventId: string, now: number, audit?: { who: Actor; entry: AuditEntry }): WebhookEventRow | undefined {
      return inTransaction(() => {
        const row = sync.requeueWebhookEvent(eventId, now);
        if (row && audit) audited(audit.who, audit.entry);
        return row;
      });
    },
    revokeKey(id: string, now: number, audit?: { who: Actor; entry: AuditEntry }): KeyRow | undefined {
      return inTransaction(() => {
        const row = sync.revokeKey(id, now);
        if (row && audit) audited(audit.who, audit.entry);
        return row;
      });
    },
    setUpstreamEnabled(id: string, enabled: boolean | null, who: Actor, audit: AuditEntry): UpstreamHealthRow {
      return inTransaction(() => {
        const row = sync.putUpstreamManual(id, enabled, who.actor, who.now);
        audited(who, audit);
        return row;
      });
    },
    appendCredit(keyId: string, amountMicros: number, note: string | null, who: Actor, audit?: AuditEntry): LedgerRow {
      return inTransaction(() => {
        const entry = sync.appendCredit(keyId, amountMicros, note, who);
        if (audit) audited(who, audit);
        return entry;
      });
    },
  };
  const { insertKey: _insertKey, applyWebhookUrl: _applyWebhookUrl, rotateSecret: _rotateSecret, putUpstreamManual: _putUpstreamManual, ...rest } = sync;
  return { ...asyncify(rest), ...asyncify(units) };
}

export type { Store } from '../store/store.js';
