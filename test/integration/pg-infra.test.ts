/**
 * The PostgreSQL test infrastructure and migrations: every test file gets its own migrated
 * database, and instances that start at once against one database all come up (contract §9).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { getTableConfig } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from '../../src/db/pg/schema/index.js';
import { openPgDatabase, migratePg, openMigratedPgDatabase } from '../../src/db/pg/client.js';
import { emptyPgDatabase, freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';

const created: TestPgDatabase[] = [];
afterAll(async () => {
  await Promise.all(created.map((d) => d.drop()));
});
const track = async (d: Promise<TestPgDatabase>) => {
  const db = await d;
  created.push(db);
  return db;
};

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** table → column → "type nullable", as the live database has them. */
async function liveColumns(url: string): Promise<Record<string, Record<string, string>>> {
  const rows = await query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    url,
    `select table_name, column_name, data_type, is_nullable from information_schema.columns where table_schema = 'public'`,
  );
  const out: Record<string, Record<string, string>> = {};
  for (const r of rows) (out[r.table_name] ??= {})[r.column_name] = `${r.data_type} ${r.is_nullable === 'YES' ? 'null' : 'not null'}`;
  return out;
}

/** The same, as the drizzle schema declares them: the migrations must produce exactly this. */
function declaredColumns(): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const table of Object.values(schema)) {
    const cfg = getTableConfig(table);
    out[cfg.name] = Object.fromEntries(cfg.columns.map((c) => [c.name, `${c.getSQLType()} ${c.notNull ? 'not null' : 'null'}`]));
  }
  return out;
}

async function liveIndexes(url: string): Promise<string[]> {
  const rows = await query<{ indexname: string }>(url, `select indexname from pg_indexes where schemaname = 'public' order by 1`);
  return rows.map((r) => r.indexname);
}

describe('PostgreSQL test databases', () => {
  it('a fresh database has every table, column and index of the schema, and no rows', async () => {
    const { url } = await track(freshPgDatabase());
    expect(await liveColumns(url)).toEqual(declaredColumns());
    const indexes = await liveIndexes(url);
    for (const table of Object.values(schema)) {
      for (const idx of getTableConfig(table).indexes) expect(indexes).toContain(idx.config.name);
    }
    for (const name of Object.keys(declaredColumns())) {
      expect(await query(url, `select 1 from "${name}" limit 1`)).toEqual([]);
    }
  });

  it('two fresh databases are independent', async () => {
    const [a, b] = await Promise.all([track(freshPgDatabase()), track(freshPgDatabase())]);
    expect(a.name).not.toBe(b.name);
    await query(a.url, `insert into api_keys (id, name, prefix, hash, created_at) values ('key_a', 'a', 'sk-a', 'h', 1)`);
    expect(await query(a.url, 'select id from api_keys')).toEqual([{ id: 'key_a' }]);
    expect(await query(b.url, 'select id from api_keys')).toEqual([]);
  });

  it('keeps times and micro-USD beyond 32 bits and reads them back as numbers', async () => {
    const database = await openMigratedPgDatabase((await track(freshPgDatabase())).url);
    try {
      const big = 2 ** 31 * 1000 + 7; // a millisecond timestamp / a micro-USD balance past int4
      await database.db.insert(schema.apiKeys).values({ id: 'k', name: 'n', prefix: 'p', hash: 'h', createdAt: big, balanceMicros: big, allowedModels: ['sora-2'] });
      const [row] = await database.db.select().from(schema.apiKeys);
      expect(row).toMatchObject({ createdAt: big, balanceMicros: big, heldMicros: 0, disabled: false, allowedModels: ['sora-2'] });
    } finally {
      await database.close();
    }
  });

  it('refuses an overdraft and a second settlement of a job in the database itself', async () => {
    const { url } = await track(freshPgDatabase());
    await query(url, `insert into api_keys (id, name, prefix, hash, created_at, balance_micros) values ('k', 'n', 'p', 'h', 1, 10)`);
    await expect(query(url, `update api_keys set held_micros = 11`)).rejects.toThrow(/api_keys_balance_covers_holds/);
    await query(url, `insert into jobs (id, key_id, kind, model, size, requested_seconds, status, rate_micros, held_micros, request_id, created_at, updated_at)
                      values ('j', 'k', 'create', 'm', 's', 4, 'pending', 1, 4, 'r', 1, 1)`);
    const settle = (id: string) =>
      query(url, `insert into ledger (id, kind, amount_micros, key_id, job_id, terminal, actor, created_at) values ($1, 'capture', 4, 'k', 'j', true, 'a', 1)`, [id]);
    await settle('l1');
    await expect(settle('l2')).rejects.toThrow(/ledger_one_settlement_per_job/);
  });
});

describe('migratePg', () => {
  it('four instances migrating one empty database at once all come up, and the schema is there once', async () => {
    const { url } = await track(emptyPgDatabase());
    const instances = Array.from({ length: 4 }, () => openPgDatabase(url, { max: 2 }));
    try {
      const results = await Promise.allSettled(instances.map((i) => migratePg(i.pool)));
      expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);
    } finally {
      await Promise.all(instances.map((i) => i.close()));
    }
    expect(await liveColumns(url)).toEqual(declaredColumns());
    const applied = await query<{ n: string }>(url, 'select count(*) as n from drizzle.__drizzle_migrations');
    const journal = (await import('../../migrations/pg/meta/_journal.json', { with: { type: 'json' } })).default;
    expect(Number(applied[0].n)).toBe(journal.entries.length);
    // The lock is released: nobody holds it once every instance is up.
    expect(await query(url, `select 1 from pg_locks where locktype = 'advisory'`)).toEqual([]);
  });

  it('migrating an up-to-date database again changes nothing', async () => {
    const { url } = await track(freshPgDatabase());
    const database = openPgDatabase(url);
    try {
      const before = await query(url, 'select id, hash from drizzle.__drizzle_migrations order by id');
      await migratePg(database.pool);
      expect(await query(url, 'select id, hash from drizzle.__drizzle_migrations order by id')).toEqual(before);
    } finally {
      await database.close();
    }
  });
});
