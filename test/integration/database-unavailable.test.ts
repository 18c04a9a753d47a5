import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openMigratedDatabase, openDatabase } from '../../src/db/client.js';
import { openPgDatabase } from '../../src/db/pg/client.js';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';

/**
 * Which real failures count as "the database cannot be reached" (503 database_unavailable): each
 * error here is produced by the real driver against a real server or file, never constructed.
 */

let d: TestPgDatabase;
beforeAll(async () => {
  d = await freshPgDatabase();
});
afterAll(async () => {
  await d.drop();
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('isDatabaseUnavailable', () => {
  it('a refused connection (ECONNREFUSED), by address and by name', async () => {
    const port = await closedPort();
    for (const host of ['127.0.0.1', 'localhost']) {
      const db = openPgDatabase(`postgres://u:p@${host}:${port}/x`);
      const err = await failure(db.pool.query('select 1'));
      await db.close();
      expect(isDatabaseUnavailable(err), String(err)).toBe(true);
    }
  });

  it('the pool connect timeout against a server that never answers', async () => {
    const sockets: Socket[] = [];
    const hole: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const db = openPgDatabase(`postgres://u:p@127.0.0.1:${(hole.address() as AddressInfo).port}/x`, { connectionTimeoutMillis: 300 });
    const err = await failure(db.pool.query('select 1'));
    await db.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => hole.close(() => r()));
    expect(isDatabaseUnavailable(err), String(err)).toBe(true);
  });

  it('a session ended by the server (57P01 admin_shutdown), and the next use of that connection', async () => {
    const client = new pg.Client({ connectionString: d.url });
    await client.connect();
    client.on('error', () => {});
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const running = failure(client.query('select pg_sleep(10)'));
    const killer = new pg.Client({ connectionString: d.url });
    await killer.connect();
    await new Promise((r) => setTimeout(r, 200));
    await killer.query('select pg_terminate_backend($1)', [pid]);
    await killer.end();
    const err = (await running) as { code?: string };
    expect(err.code).toBe('57P01');
    expect(isDatabaseUnavailable(err)).toBe(true);
    const after = await failure(client.query('select 1'));
    expect(isDatabaseUnavailable(after), String(after)).toBe(true);
    await client.end().catch(() => {});
  });

  it('is not a query the database refused: a constraint, a syntax error, a bad value', async () => {
    const db = openPgDatabase(d.url);
    await db.pool.query("insert into api_keys (id, name, prefix, hash, created_at) values ('k', 'n', 'p', 'h', 0)");
    const duplicate = await failure(db.pool.query("insert into api_keys (id, name, prefix, hash, created_at) values ('k', 'n', 'p', 'h', 0)"));
    const syntax = await failure(db.pool.query('selec 1'));
    const value = await failure(db.pool.query("select 'x'::bigint"));
    await db.close();
    for (const err of [duplicate, syntax, value]) expect(isDatabaseUnavailable(err), String(err)).toBe(false);
  });

  it('is not SQLite busy beyond its busy timeout (SQLITE_BUSY), nor a SQLite constraint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reelay-busy-'));
    try {
      const path = join(dir, 'r.db');
      const a = openMigratedDatabase(path);
      const b = openDatabase(path);
      b.sqlite.pragma('busy_timeout = 0');
      a.sqlite.exec('BEGIN IMMEDIATE');
      let busy: unknown;
      try {
        b.sqlite.exec('BEGIN IMMEDIATE');
      } catch (err) {
        busy = err;
      }
      a.sqlite.exec('ROLLBACK');
      expect((busy as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(isDatabaseUnavailable(busy)).toBe(false);
      let constraint: unknown;
      try {
        a.sqlite.prepare("insert into api_keys (id, name, prefix, hash, created_at, balance_micros, held_micros) values ('k', 'n', 'p', 'h', 0, 0, 5)").run();
      } catch (err) {
        constraint = err;
      }
      expect(isDatabaseUnavailable(constraint)).toBe(false);
      a.close();
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('looks through wrappers (a cause chain)', async () => {
    const port = await closedPort();
    const db = openPgDatabase(`postgres://u:p@127.0.0.1:${port}/x`);
    const err = await failure(db.pool.query('select 1'));
    await db.close();
    expect(isDatabaseUnavailable(new Error('Failed query: select 1', { cause: err }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('something else'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
