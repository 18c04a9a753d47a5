import type { DatabaseConfig } from '../config.js';
import type { Store } from '../store/store.js';
import { openMigratedDatabase, type Database_ } from './client.js';
import { createStore } from './store.js';
import { openMigratedPgDatabase, type PgDatabase } from './pg/client.js';
import { createPgStore } from './pg/store.js';
import { withReadCaches } from '../store/read-caches.js';

/** The configured engine, opened and migrated, behind the Store interface. */
export type OpenedStore =
  | { readonly engine: 'sqlite'; readonly store: Store; readonly database: Database_; close(): Promise<void> }
  | { readonly engine: 'postgres'; readonly store: Store; readonly database: PgDatabase; close(): Promise<void> };

/** Shown in pg_stat_activity for every connection reelay opens. */
export const PG_APPLICATION_NAME = 'reelay';

/**
 * Getting a PostgreSQL connection gives up after this long, so a request (or /healthz) cannot
 * hang on a database that does not answer: it fails, and is answered 503 database_unavailable.
 */
export const PG_CONNECT_TIMEOUT_MS = 5_000;

/**
 * One query gives up after this long without an answer (the network to the database dropping
 * packets): the request fails with 503 database_unavailable instead of hanging. Generous, so that
 * the slowest legitimate report query (a usage summary over a large ledger) still finishes.
 */
export const PG_QUERY_TIMEOUT_MS = 15_000;

export interface OpenStoreOptions {
  /** An idle pooled PostgreSQL connection failed (the server restarted, the network cut). */
  onIdleError?: (err: Error) => void;
}

/**
 * Opens DATABASE_URL's engine and applies pending migrations: SQLite (creating the file when it
 * does not exist; callers that must not create one check first) or PostgreSQL (a pool of
 * DATABASE_POOL_SIZE connections; migrations under the advisory lock, so instances starting
 * together all come up). Rejects when PostgreSQL cannot be reached.
 */
export async function openStore(config: { database: DatabaseConfig }, opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  const d = config.database;
  if (d.engine === 'sqlite') return sqliteOpened(openMigratedDatabase(d.path));
  const database = await openMigratedPgDatabase(d.url, {
    max: d.poolSize,
    applicationName: PG_APPLICATION_NAME,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    queryTimeoutMillis: PG_QUERY_TIMEOUT_MS,
    onIdleError: opts.onIdleError,
  });
  // The per-request reads (key by hash, job by video id) come from a 1 s cache, as on SQLite.
  return { engine: 'postgres', store: withReadCaches(createPgStore(database)), database, close: () => database.close() };
}

/** An already opened SQLite database as an OpenedStore (the synchronous path tests use). */
export function sqliteOpened(database: Database_): OpenedStore {
  return {
    engine: 'sqlite',
    store: createStore(database),
    database,
    close: async () => database.close(),
  };
}
