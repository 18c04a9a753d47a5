import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { fileURLToPath } from 'node:url';
import * as schema from './schema/index.js';

export type PgDb = NodePgDatabase<typeof schema>;

export interface PgDatabase {
  pool: pg.Pool;
  db: PgDb;
  close(): Promise<void>;
}

export interface PgOptions {
  /** Most connections this process opens (pg's default is 10). */
  max?: number;
  /** Shown in pg_stat_activity, so an operator can tell instances apart. */
  applicationName?: string;
  /** Called when an idle pooled connection fails, e.g. the server restarted. */
  onIdleError?: (err: Error) => void;
  /**
   * How long getting a connection may take (opening one, or waiting for a free one in a full
   * pool) before the query fails; pg's default is to wait forever.
   */
  connectionTimeoutMillis?: number;
  /**
   * How long one query may wait for its answer before it fails ("Query read timeout"); pg's
   * default is to wait forever, which a network that silently drops packets turns into a hang.
   */
  queryTimeoutMillis?: number;
}

/** PostgreSQL's migrations sit at the package root, three levels above this file (src/db/pg or dist/db/pg). */
export const PG_MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/pg', import.meta.url));

/**
 * Key of the session advisory lock that serialises migrations across instances. Any constant
 * works as long as nothing else in the database uses it; this one is "reelay" in ASCII.
 */
export const MIGRATION_LOCK_KEY = 0x7265656c6179;

function endConnectionOnQueryTimeout(client: pg.PoolClient): void {
  const query = client.query as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = function (this: pg.PoolClient, ...args: unknown[]) {
    const result = query.apply(this, args);
    if (result instanceof Promise) {
      result.catch((err: Error) => {
        if (err?.message === 'Query read timeout') (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      });
    }
    return result;
  };
}

/** Opens a connection pool to `url` (postgres://…). Connects lazily; does not migrate. */
export function openPgDatabase(url: string, opts: PgOptions = {}): PgDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max,
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.connectionTimeoutMillis,
    query_timeout: opts.queryTimeoutMillis,
    // TCP keep-alive, so a connection to a server that vanished is noticed rather than kept.
    keepAlive: true,
  });
  // Without a listener, an idle client's error (server restart, network cut) is an unhandled
  // 'error' event and kills the process; the pool drops that client and reconnects on demand.
  pool.on('error', (err) => opts.onIdleError?.(err));
  // A query that timed out leaves its connection busy with an answer that may never come, and a
  // transaction (drizzle) returns its connection to the pool without saying anything went wrong:
  // end such a connection at once, so the pool replaces it instead of handing it out again.
  if (opts.queryTimeoutMillis) pool.on('connect', (client) => endConnectionOnQueryTimeout(client));
  // A connection that fails while checked out (ended above, or cut by the network) emits 'error'
  // on its client; unheard, that would kill the process. The query in flight fails on its own.
  pool.on('connect', (client) => client.on('error', (err) => opts.onIdleError?.(err)));
  const db = drizzle(pool, { schema });
  return { pool, db, close: () => pool.end() };
}

/**
 * Applies pending migrations from migrations/pg. Safe when several instances start at once:
 * drizzle's migrator is not (two of them race on CREATE SCHEMA/TABLE IF NOT EXISTS and both apply
 * the same migration), so each caller first takes a session-level advisory lock and the others
 * wait for it, then find nothing left to do.
 *
 * Why a session lock is safe here although advisory locks "break behind a pool": the lock, the
 * migrations and the unlock all run on ONE client checked out of the pool for the whole duration,
 * so they share one server session. pg_advisory_xact_lock would not do: drizzle's migrator opens
 * its own transaction and does its first statements outside it. If this process dies while holding
 * the lock, the server ends the session and the lock with it. After any failure the client is
 * closed rather than returned to the pool, so no pooled session keeps the lock.
 */
export async function migratePg(pool: pg.Pool, migrationsFolder = PG_MIGRATIONS_DIR): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await migrate(drizzle(client, { schema }), { migrationsFolder });
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  } catch (err) {
    // After a failure the session's state (the lock, an aborted transaction) is unknown:
    // release(err) closes the connection instead of pooling it, and closing it frees the lock.
    client.release(err as Error);
    throw err;
  }
  client.release();
}

/** Open + migrate: what a PostgreSQL-backed server, the CLI and the tests use. */
export async function openMigratedPgDatabase(url: string, opts: PgOptions = {}): Promise<PgDatabase> {
  const database = openPgDatabase(url, opts);
  try {
    await migratePg(database.pool);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}
