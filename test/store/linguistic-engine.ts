/**
 * PostgreSQL with a linguistic default collation (ICU en-US), where 'key_a' sorts before 'key_B'
 * and 'job_a3' before 'job_Z2', unlike SQLite's byte order. The test server's databases default to
 * C.UTF-8 (byte order), which would hide a missing COLLATE "C": the report units' contract tests
 * also run here, so orderings and keyset cursors must come out in SQLite's order on any database.
 */
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { migratePg, openPgDatabase } from '../../src/db/pg/client.js';
import { createPgStore } from '../../src/db/pg/store.js';
import { adminQuery, databaseUrl } from '../helpers/pg-admin.js';
import type { Engine } from '../helpers/engines.js';

export const linguisticPostgresEngine: Engine = {
  name: 'postgres',
  async open() {
    const server = inject('pgServerUrl');
    const name = `reelay_test_icu_${randomBytes(6).toString('hex')}`;
    await adminQuery(server, `CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    const database = openPgDatabase(databaseUrl(server, name), { max: 4 });
    await migratePg(database.pool);
    const probe = (await database.pool.query(`select array_agg(x order by x) as o from unnest(array['key_B', 'key_a']) x`)).rows[0].o as string[];
    if (probe[0] !== 'key_a') throw new Error(`expected a linguistic default collation, got order ${probe.join(', ')}`);
    return {
      store: createPgStore(database),
      async sql(query: string, params: unknown[] = []) {
        let i = 0;
        return (await database.pool.query(query.replace(/\?/g, () => `$${++i}`), params)).rows;
      },
      async close() {
        await database.close();
        await adminQuery(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      },
    };
  },
};

/** The two engines, plus PostgreSQL on a linguistic collation, labelled for describe.each. */
export const enginesWithLinguistic = (engines: Engine[]) => [
  ...engines.map((e) => ({ ...e, label: e.name })),
  { ...linguisticPostgresEngine, label: 'postgres (ICU en-US collation)' },
];
