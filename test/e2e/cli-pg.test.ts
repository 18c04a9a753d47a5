import { afterAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runReelayCli } from '../helpers/cli.js';
import { emptyPgDatabase, type TestPgDatabase } from '../helpers/pg.js';

/** The CLI on a PostgreSQL DATABASE_URL, as operators run it (`node bin/reelay.js …`). */

vi.setConfig({ testTimeout: 120_000 });
const PG_JOURNAL = fileURLToPath(new URL('../../migrations/pg/meta/_journal.json', import.meta.url));
const databases: TestPgDatabase[] = [];

afterAll(async () => {
  for (const d of databases) await d.drop();
});

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('reelay migrate on PostgreSQL', () => {
  it('migrates a fresh empty database, and again does nothing', async () => {
    const d = await emptyPgDatabase();
    databases.push(d);
    const first = await runReelayCli(['migrate'], { DATABASE_URL: d.url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^Migrations applied \(PostgreSQL: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/reelay_test_/);
    expect(first.stderr).not.toContain(new URL(d.url).password);

    const migrations = (JSON.parse(readFileSync(PG_JOURNAL, 'utf8')) as { entries: unknown[] }).entries.length;
    const applied = async () => Number((await query(d.url, 'select count(*) as n from drizzle.__drizzle_migrations'))[0]!.n);
    expect(await applied()).toBe(migrations);
    const tables = (await query(d.url, "select table_name from information_schema.tables where table_schema = 'public' order by table_name")).map((r) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(['api_keys', 'audit_log', 'characters', 'idempotency_keys', 'jobs', 'ledger', 'request_log']));

    const again = await runReelayCli(['migrate'], { DATABASE_URL: d.url });
    expect(again.code, again.stderr).toBe(0);
    expect(await applied()).toBe(migrations);
  });

  it('exits 1 with the reason when the server cannot be reached, never showing the password', async () => {
    const port = await closedPort();
    const url = `postgres://reelay:hunter2-secret@127.0.0.1:${port}/reelay`;
    for (const args of [['migrate'], ['keys', 'list']]) {
      const run = await runReelayCli(args, { DATABASE_URL: url });
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr).toMatch(/cannot open the PostgreSQL database postgres:\/\/reelay:\*\*\*@127\.0\.0\.1:\d+\/reelay: .*ECONNREFUSED/);
      expect(run.stderr).not.toContain('hunter2-secret');
    }
  });

  it('exits 2 on a malformed DATABASE_URL, naming it', async () => {
    const run = await runReelayCli(['migrate'], { DATABASE_URL: 'postgres://reelay:hunter2-secret@db.internal:5432' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/DATABASE_URL: .*names no database/);
    expect(run.stderr).not.toContain('hunter2-secret');
  });
});
