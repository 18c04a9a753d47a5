/**
 * The two storage engines, for tests that must hold on both (the store contract suite in
 * test/store/): `describe.each(engines)` and open a fresh, migrated, empty store per file or test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import { openPgDatabase } from '../../src/db/pg/client.js';
import { createPgStore } from '../../src/db/pg/store.js';
import type { Store } from '../../src/store/store.js';
import { freshPgDatabase } from './pg.js';

export interface OpenStore {
  store: Store;
  /** Runs raw SQL on the engine (to arrange a state or look under the store); rows as objects. */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export interface Engine {
  name: 'sqlite' | 'postgres';
  open(): Promise<OpenStore>;
}

export const sqliteEngine: Engine = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'reelay-store-'));
    const database = openMigratedDatabase(join(dir, 'reelay.db'));
    return {
      store: createStore(database),
      async sql(query, params = []) {
        const stmt = database.sqlite.prepare(query);
        return stmt.reader ? (stmt.all(...params) as Record<string, unknown>[]) : (stmt.run(...params), []);
      },
      async close() {
        database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgresEngine: Engine = {
  name: 'postgres',
  async open() {
    const testDb = await freshPgDatabase();
    const database = openPgDatabase(testDb.url, { max: 10 });
    return {
      store: createPgStore(database),
      async sql(query, params = []) {
        // SQLite-style ? placeholders become $1, $2, … so one query text serves both engines.
        let i = 0;
        const text = query.replace(/\?/g, () => `$${++i}`);
        return (await database.pool.query(text, params)).rows;
      },
      async close() {
        await database.close();
        await testDb.drop();
      },
    };
  },
};

export const engines: Engine[] = [sqliteEngine, postgresEngine];
