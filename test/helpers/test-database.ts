/**
 * A database of either engine for tests that run reelay as a child process (crash tests, the
 * soak): its DATABASE_URL for the child, a store to arrange keys before the child starts, and a
 * read-only view for the checks afterwards (engine-neutral SQL, the ledger checker, the engine's
 * own integrity check) plus everything it stores as text, for secret scans.
 *
 * No vitest import here, so the soak script can use it too; test files get one through
 * newTestDatabase() in engine-databases.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import { openMigratedPgDatabase, openPgDatabase } from '../../src/db/pg/client.js';
import { createPgStore } from '../../src/db/pg/store.js';
import type { Store } from '../../src/store/store.js';
import { sqliteLedgerChecker } from './ledger-invariants.js';
import { adminQuery, databaseUrl } from './pg-admin.js';

export type EngineName = 'sqlite' | 'postgres';

export interface TestDatabase {
  readonly engine: EngineName;
  /** DATABASE_URL for a reelay process: a SQLite file path, or postgres://…/<its own database>. */
  readonly url: string;
  /**
   * A store on the database, opened and migrated as a starting server does (closing it and opening
   * another is a restart), e.g. to create keys before reelay starts.
   */
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
  /** A read-only view for end-of-test checks; close it when done. */
  openReader(): Promise<DatabaseReader>;
  /**
   * Everything the database stores, as text, for secret scans: SQLite's file, WAL and shm bytes
   * (latin1); on PostgreSQL every row of every table (the server's files are not ours to read).
   */
  contents(): Promise<string[]>;
  /** Deletes the file(s) or drops the database. */
  remove(): Promise<void>;
}

export interface DatabaseReader {
  /**
   * Rows of a query both engines accept (`?` placeholders; write `having count(*) > 1`, not an
   * alias; `where terminal`, not `= 1`). PostgreSQL's bigint and numeric values (sums, counts,
   * micro-USD) come back as numbers, as they do from SQLite.
   */
  all<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T | undefined>;
  /** The ledger invariants that do not hold (ReportsStore.ledgerViolations' checker). */
  ledgerViolations(): Promise<string[]>;
  /**
   * 'ok' when the engine's own check finds no damage. SQLite: PRAGMA integrity_check. PostgreSQL:
   * amcheck: verify_heapam on every table and bt_index_check (with heapallindexed) on every
   * B-tree index, so a row an index lost or a damaged page is found (creating the extension needs
   * a superuser, as the embedded test server's user is).
   */
  integrity(): Promise<string>;
  close(): Promise<void>;
}

// --- SQLite ---------------------------------------------------------------------------------------

/** A migrated SQLite file in a new temporary directory. */
export function sqliteTestDatabase(prefix = 'reelay-db-'): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'reelay.db');
  openMigratedDatabase(path).close();
  return {
    engine: 'sqlite',
    url: path,
    async openStore() {
      const database = openMigratedDatabase(path);
      return { store: createStore(database), close: async () => database.close() };
    },
    async openReader() {
      const check = new Database(path, { readonly: true });
      const checker = sqliteLedgerChecker(check);
      return {
        all: async <T>(query: string, params: unknown[] = []) => check.prepare(query).all(...params) as T[],
        get: async <T>(query: string, params: unknown[] = []) => check.prepare(query).get(...params) as T | undefined,
        ledgerViolations: () => checker.ledgerViolations(),
        integrity: async () => String(check.pragma('integrity_check', { simple: true })),
        close: async () => void check.close(),
      };
    },
    async contents() {
      return [path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p).toString('latin1'));
    },
    async remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- PostgreSQL -----------------------------------------------------------------------------------

/** bigint (int8) and numeric: what counts, sums and micro-USD columns come back as. */
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const numbersAsNumbers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID || oid === NUMERIC_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * A database of its own on the PostgreSQL server at `serverUrl` (its maintenance database):
 * cloned from `template` when given (an already migrated one), else created empty and migrated.
 */
export async function pgTestDatabase(serverUrl: string, template?: string): Promise<TestDatabase> {
  const name = `reelay_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
  const url = databaseUrl(serverUrl, name);
  if (!template) await (await openMigratedPgDatabase(url, { max: 1 })).close();
  const query = async (text: string, params: unknown[] = [], readOnly = true) => {
    const client = new pg.Client({ connectionString: url, types: numbersAsNumbers, ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}) });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  return {
    engine: 'postgres',
    url,
    async openStore() {
      const database = await openMigratedPgDatabase(url, { max: 4 });
      return { store: createPgStore(database), close: () => database.close() };
    },
    async openReader() {
      // Every session read-only: the checks can look, never write.
      const pool = new pg.Pool({ connectionString: url, max: 2, types: numbersAsNumbers, options: '-c default_transaction_read_only=on' });
      // An idle connection ended by the server (the database dropped WITH (FORCE) after a test)
      // would otherwise be an unhandled 'error' event: the pool replaces it on demand.
      pool.on('error', () => {});
      const database = openPgDatabase(url, { max: 1 });
      const store = createPgStore(database);
      const all = async <T>(text: string, params: unknown[] = []) => {
        let i = 0;
        return (await pool.query(text.replace(/\?/g, () => `$${++i}`), params)).rows as T[];
      };
      return {
        all,
        get: async <T>(text: string, params: unknown[] = []) => (await all<T>(text, params))[0],
        ledgerViolations: () => store.ledgerViolations(),
        integrity: () => pgIntegrity(query),
        async close() {
          await pool.end();
          await database.close();
        },
      };
    },
    async contents() {
      const tables = await query(`select format('%I.%I', table_schema, table_name) as t from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`);
      const texts: string[] = [];
      for (const { t } of tables) for (const row of await query(`select x::text as r from ${t as string} x`)) texts.push(String(row.r));
      return texts;
    },
    remove: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

type Query = (text: string, params?: unknown[], readOnly?: boolean) => Promise<Record<string, unknown>[]>;

async function pgIntegrity(query: Query): Promise<string> {
  await query('create extension if not exists amcheck', [], false);
  const problems: string[] = [];
  const tables = await query(`select c.oid::regclass::text as rel from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'm', 't') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_temp%'`);
  for (const { rel } of tables) {
    for (const r of await query('select blkno, offnum, attnum, msg from verify_heapam($1::regclass)', [rel])) {
      problems.push(`${rel as string} block ${r.blkno} offset ${r.offnum}: ${r.msg as string}`);
    }
  }
  const indexes = await query(`select c.oid::regclass::text as idx from pg_index i join pg_class c on c.oid = i.indexrelid
    join pg_am am on am.oid = c.relam join pg_namespace n on n.oid = c.relnamespace
    where am.amname = 'btree' and i.indisvalid and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_temp%'`);
  for (const { idx } of indexes) {
    try {
      await query('select bt_index_check($1::regclass, true)', [idx]);
    } catch (err) {
      problems.push(`${idx as string}: ${(err as Error).message}`);
    }
  }
  if (tables.length === 0 || indexes.length === 0) problems.push(`nothing checked (${tables.length} tables, ${indexes.length} indexes)`);
  return problems.length === 0 ? 'ok' : problems.join('\n');
}
