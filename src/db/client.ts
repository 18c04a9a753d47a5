import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { dirname } from 'node:path';
import { ensurePrivateDir, ensurePrivateFile, restrictExisting } from '../private-files.js';
import { fileURLToPath } from 'node:url';
import * as schema from './schema/index.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface Database_ {
  sqlite: Database.Database;
  db: Db;
  close(): void;
  /**
   * Runs `write` with commits that skip the disk sync (synchronous = NORMAL), for best-effort
   * records only: request-log rows and keys' last-used times (written with them). In WAL mode such
   * a commit survives the process crashing; an OS crash or power cut may lose the last ones, and
   * the next commit at FULL syncs them too. Jobs, keys, holds and the ledger never go through here.
   */
  withoutSync<T>(write: () => T): T;
}

/**
 * SQLite's migrations sit at the package root, two levels above this file (src/db or dist/db), in
 * migrations/sqlite (PostgreSQL's are in migrations/pg).
 */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/sqlite', import.meta.url));

/**
 * Pragmas applied to every connection. synchronous must be set explicitly: better-sqlite3 reopening
 * a WAL database otherwise runs at NORMAL, which can lose acknowledged commits on power loss.
 */
export function applyPragmas(sqlite: Database.Database): void {
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
}

/**
 * Opens (creating if needed) the SQLite file and applies the pragmas. Does not migrate. A new data
 * directory is created 0700 and the database file 0600 before SQLite opens it; SQLite gives its
 * -wal and -shm files the database file's mode, and older ones are tightened here too.
 */
export function openDatabase(path: string): Database_ {
  const onDisk = path !== ':memory:' && !path.startsWith('file:');
  if (onDisk) {
    ensurePrivateDir(dirname(path));
    ensurePrivateFile(path);
  }
  const sqlite = new Database(path);
  applyPragmas(sqlite);
  if (onDisk) restrictExisting(`${path}-wal`, `${path}-shm`);
  const db = drizzle(sqlite, { schema });
  const relaxed = sqlite.prepare('pragma synchronous = NORMAL');
  const strict = sqlite.prepare('pragma synchronous = FULL');
  return {
    sqlite,
    db,
    close: () => sqlite.close(),
    withoutSync<T>(write: () => T): T {
      // Inside a transaction the caller's commit decides; the pragma is left alone.
      if (sqlite.inTransaction) return write();
      relaxed.run();
      try {
        return write();
      } finally {
        strict.run();
      }
    },
  };
}

export function runMigrations(database: Database_): void {
  migrate(database.db, { migrationsFolder: MIGRATIONS_DIR });
}

/** Open + migrate: what the server, the CLI and the tests use. */
export function openMigratedDatabase(path: string): Database_ {
  const database = openDatabase(path);
  runMigrations(database);
  return database;
}
