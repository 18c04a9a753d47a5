/**
 * `npx tsx bench/sqlite-costs.ts`: the two SQLite costs behind changes 9 and 10 in
 * docs/performance.md, measured on this machine's disk (files in bench/results/tmp/sqlite-costs):
 *
 *  1. one autocommit UPDATE at synchronous=FULL (a disk sync per commit) and at NORMAL (none);
 *  2. inserting request-log rows (the real table and indexes, from migrations/sqlite/) in batches, with
 *     random request ids and with time-ordered ones as `newId` makes them now;
 *  3. inserting finished-poll request-log rows into reelay's own migrated database, through a
 *     drizzle prepared statement with named placeholders and through a plain better-sqlite3
 *     statement with positional values (change 15).
 *
 * Each measurement runs twice, alternating, so a disturbance shows as a disagreement.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { BENCH_DIR, ROOT } from './targets.js';
import { openMigratedDatabase } from '../src/db/client.js';
import { requestLog } from '../src/db/schema/index.js';
import { newId } from '../src/ids.js';

const dir = join(BENCH_DIR, 'results', 'tmp', 'sqlite-costs');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

function fresh(name: string, synchronous: 'FULL' | 'NORMAL'): Database.Database {
  const file = join(dir, `${name}.db`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  return db;
}

function commitCost(synchronous: 'FULL' | 'NORMAL'): number {
  const db = fresh('commit', synchronous);
  db.exec('create table t (id integer primary key, v integer)');
  db.transaction(() => {
    for (let i = 0; i < 100; i++) db.prepare('insert into t values (?, 0)').run(i);
  })();
  const update = db.prepare('update t set v = v + 1 where id = ?');
  const n = 500;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) update.run(i % 100);
  const ms = (performance.now() - t0) / n;
  db.close();
  return ms;
}

// The request_log table and its indexes, exactly as the migration creates them.
const migration = readFileSync(join(ROOT, 'migrations', 'sqlite', '0000_init.sql'), 'utf8');
const requestLogDdl = migration
  .split('--> statement-breakpoint')
  .map((s) => s.trim())
  .filter((s) => /^CREATE (TABLE|INDEX) `?request_log/.test(s));

const ids = {
  random: () => `req_${randomBytes(12).toString('hex')}`,
  'time-ordered': (t: number) => `req_${t.toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`,
};

function rowCost(kind: keyof typeof ids): number {
  const db = fresh('request-log', 'NORMAL');
  for (const s of requestLogDdl) db.exec(s);
  const insert = db.prepare(
    'insert into request_log (request_id, client_request_id, upstream_request_id, key_id, method, route, video_id, status, error_code, duration_ms, upstream_duration_ms, bytes_in, bytes_out, created_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  const batch = db.transaction((rows: unknown[][]) => {
    for (const r of rows) insert.run(...r);
  });
  let ms = 0;
  let n = 0;
  const start = Date.now();
  // 20 batches of 3,000 rows of a proxied poll (an upstream request id, one of 100 videos).
  for (let b = 0; b < 20; b++) {
    const rows = Array.from({ length: 3000 }, (_, i) => {
      const at = start + b * 1000 + i;
      return [ids[kind](at), null, `upreq_${randomBytes(12).toString('hex')}`, 'key_bench', 'GET', '/v1/videos/:id', `video_ip_${i % 100}`, 200, null, 1, 1, 0, 500, at];
    });
    const t0 = performance.now();
    batch(rows);
    ms += performance.now() - t0;
    n += rows.length;
  }
  db.close();
  return (ms * 1000) / n;
}

const COLUMNS = ['requestId', 'clientRequestId', 'upstreamRequestId', 'keyId', 'method', 'route', 'videoId', 'status', 'errorCode', 'durationMs', 'upstreamDurationMs', 'bytesIn', 'bytesOut', 'createdAt'] as const;

function insertPathCost(path: 'drizzle' | 'raw'): number {
  const file = join(dir, `insert-${path}.db`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const database = openMigratedDatabase(file);
  const drizzleInsert = database.db
    .insert(requestLog)
    .values(Object.fromEntries(COLUMNS.map((c) => [c, sql.placeholder(c)])) as never)
    .prepare();
  const rawInsert = database.sqlite.prepare(
    'insert into request_log (request_id, client_request_id, upstream_request_id, key_id, method, route, video_id, status, error_code, duration_ms, upstream_duration_ms, bytes_in, bytes_out, created_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  let ms = 0;
  let n = 0;
  for (let b = 0; b < 20; b++) {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      requestId: newId('req'), clientRequestId: null, upstreamRequestId: null, keyId: 'key_bench', method: 'GET',
      route: `/v1/videos/video_done_${i % 100}`, videoId: `video_done_${i % 100}`, status: 200, errorCode: null,
      durationMs: 0, upstreamDurationMs: null, bytesIn: 0, bytesOut: 500, createdAt: Date.now(),
    }));
    const t0 = performance.now();
    database.withoutSync(() =>
      database.db.transaction(() => {
        for (const r of rows) {
          if (path === 'drizzle') drizzleInsert.run({ ...r });
          else rawInsert.run(...COLUMNS.map((c) => r[c]));
        }
      }),
    );
    ms += performance.now() - t0;
    n += rows.length;
  }
  database.sqlite.close();
  return (ms * 1000) / n;
}

process.stdout.write(`request_log: ${requestLogDdl.length - 1} indexes from migrations/sqlite/0000_init.sql\n`);
for (let round = 1; round <= 2; round++) {
  process.stdout.write(`round ${round}\n`);
  for (const s of ['FULL', 'NORMAL'] as const) process.stdout.write(`  autocommit UPDATE, synchronous=${s}: ${commitCost(s).toFixed(3)} ms\n`);
  for (const k of Object.keys(ids) as (keyof typeof ids)[]) process.stdout.write(`  request-log row insert, ${k} ids: ${rowCost(k).toFixed(1)} µs\n`);
  for (const path of ['drizzle', 'raw'] as const) process.stdout.write(`  finished-poll row into reelay's database, ${path} statement: ${insertPathCost(path).toFixed(1)} µs\n`);
}
rmSync(dir, { recursive: true, force: true });
