import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import { DEFAULT_CATALOG } from '../../src/billing/catalog.js';
import { parseUsd } from '../../src/money.js';
import { copySqliteToPg, tablePlan, type CopyReport } from '../../src/cli/db-copy.js';
import { Refused } from '../../src/cli/common.js';
import { seedJob, seedKey } from '../integration/admin-fixtures.js';
import { runReelayCli } from '../helpers/cli.js';
import { emptyPgDatabase, freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';

/**
 * `reelay db copy`: a SQLite database filled through the SQLite store (keys with credit, jobs
 * held, captured and released, request log, audit, idempotency records, characters) copied into
 * PostgreSQL, compared table by table and row by row, and the refusals.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const T0 = Date.UTC(2026, 10, 1);
const REQUEST_LOG_ROWS = 1234; // several batches of 500

let dir: string;
let source: string;
const targets: TestPgDatabase[] = [];

async function target(kind: 'empty' | 'migrated'): Promise<TestPgDatabase> {
  const t = kind === 'empty' ? await emptyPgDatabase() : await freshPgDatabase();
  targets.push(t);
  return t;
}

async function pgRows(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

function sqliteRows(sql: string): Record<string, unknown>[] {
  const db = new Database(source, { readonly: true });
  try {
    const stmt = db.prepare(sql);
    stmt.safeIntegers(true);
    return stmt.all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** One value, both engines alike: integers and booleans as text, JSON parsed and re-serialised. */
function normalise(v: unknown, sqlType: string, engine: 'sqlite' | 'pg'): unknown {
  if (v === null || v === undefined) return null;
  if (sqlType === 'boolean') return engine === 'sqlite' ? (BigInt(v as bigint) !== 0n ? 'true' : 'false') : String(v);
  if (sqlType === 'jsonb') return JSON.stringify(engine === 'sqlite' ? JSON.parse(String(v)) : v);
  return String(v);
}

/** Every row of every copied table on both sides, normalised, in the same (code-unit) order. */
async function dumpBoth(url: string) {
  const out: Record<string, { sqlite: string[]; pg: string[] }> = {};
  for (const t of tablePlan()) {
    const cols = t.columns.map((c) => `"${c.name}"`).join(', ');
    const norm = (rows: Record<string, unknown>[], engine: 'sqlite' | 'pg') =>
      rows.map((r) => JSON.stringify(t.columns.map((c) => normalise(r[c.name], c.sqlType, engine)))).sort();
    out[t.name] = {
      sqlite: norm(sqliteRows(`select ${cols} from "${t.name}"`), 'sqlite'),
      pg: norm(await pgRows(url, `select ${cols} from "${t.name}"`), 'pg'),
    };
  }
  return out;
}

async function pgCounts(url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tablePlan()) out[t.name] = Number((await pgRows(url, `select count(*) as n from "${t.name}"`))[0]!.n);
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-dbcopy-'));
  source = join(dir, 'reelay.db');
  const database = openMigratedDatabase(source);
  database.sqlite.pragma('synchronous = OFF'); // test seeding only
  const store = createStore(database);
  const deps = { store, catalog: DEFAULT_CATALOG };
  const who = { actor: 'admin', requestId: 'req_admin', now: T0 };

  const alice = await seedKey(deps, 'alice', '100.00', T0);
  const bob = await seedKey(deps, 'bob', '25.50', T0 + 1);
  const carol = await seedKey(deps, 'carol', '0', T0 + 2);
  await store.updateKey(alice.id, { allowedModels: ['sora-2', 'sora-2-pro'], rpmLimit: 60, maxInflightJobs: 5, maxConcurrentDownloads: 3 });
  await store.updateKey(carol.id, { disabled: true });
  await store.revokeKey(bob.id, T0 + 5, { who, entry: { action: 'key.revoke', targetId: bob.id, details: { reason: 'test' } } });
  await store.appendCredit(alice.id, -parseUsd('1.25'), 'adjust', who, { action: 'key.adjust', targetId: alice.id, details: { amount_usd: '-1.250000', note: 'adjust' } });

  let n = 0;
  for (const outcome of ['completed', 'failed', 'rejected', 'unknown', 'expired', 'open', 'open', 'completed'] as const) {
    await seedJob(deps, n % 3 === 2 ? bob : alice, { at: T0 + 60_000 * ++n, outcome, seconds: 4, requestId: `req_job_${n}` });
  }
  await store.appendAudit({ actor: 'admin', action: 'key.create', targetId: alice.id, requestId: 'req_a', details: { name: 'alice', nested: { x: [1, 2] } }, now: T0 });
  await store.appendAudit({ actor: 'cli', action: 'pricing.reload', targetId: null, requestId: null, details: null, now: T0 + 10 });

  await store.claimIdempotencyKey({ keyId: alice.id, idemKey: 'idem-done', route: 'POST /v1/videos', bodyHash: 'h1', now: T0, expiredBefore: 0, instanceId: 'copy-test', deadBefore: 0 });
  await store.completeIdempotencyKey(alice.id, 'idem-done', { status: 200, headers: { 'content-type': 'application/json' }, body: '{"id":"video_x"}' });
  await store.claimIdempotencyKey({ keyId: alice.id, idemKey: 'idem-open', route: 'POST /v1/videos', bodyHash: 'h2', now: T0, expiredBefore: 0, instanceId: 'copy-test', deadBefore: 0 });

  await store.recordCharacter({ id: 'char_1', keyId: alice.id, requestId: 'req_c1', createdAt: T0 });
  await store.recordCharacter({ id: 'char_2', keyId: bob.id, requestId: 'req_c2', createdAt: T0 + 1 });

  const rows = Array.from({ length: REQUEST_LOG_ROWS }, (_, i) => ({
    requestId: `req_${i}`,
    clientRequestId: i % 3 === 0 ? `client_${i}` : null,
    upstreamRequestId: i % 5 === 0 ? `up_${i}` : null,
    keyId: i % 2 === 0 ? alice.id : null,
    method: i % 4 === 0 ? 'POST' : 'GET',
    route: '/v1/videos',
    videoId: i % 7 === 0 ? `video_${i}` : null,
    status: i % 11 === 0 ? 503 : 200,
    errorCode: i % 11 === 0 ? 'upstream_unavailable' : null,
    durationMs: i % 100,
    upstreamDurationMs: i % 2 === 0 ? i % 50 : null,
    bytesIn: i * 10,
    // Beyond 32 bits, as a large download is.
    bytesOut: 3_000_000_000 + i,
    createdAt: T0 + i,
  }));
  for (let i = 0; i < rows.length; i += 400) await store.insertRequestLogBatch(rows.slice(i, i + 400));
  // Gaps in seq (retention deleted the oldest rows) must survive the copy as they are.
  await store.deleteRequestLogBefore(T0 + 10, 1000);
  database.close();
});

afterAll(async () => {
  for (const t of targets) await t.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('reelay db copy', () => {
  let url: string;
  let report: string;

  it('copies into an empty, unmigrated PostgreSQL database: every table row by row, and says so', async () => {
    url = (await target('empty')).url;
    const run = await runReelayCli(['db', 'copy', '--from', source, '--to', url], {});
    expect(run.code, run.stderr).toBe(0);
    report = run.stdout;

    const dump = await dumpBoth(url);
    for (const [table, sides] of Object.entries(dump)) {
      expect(sides.pg, table).toEqual(sides.sqlite);
    }
    // Something of each kind is really there.
    expect(dump.api_keys!.pg).toHaveLength(3);
    expect(dump.jobs!.pg).toHaveLength(8);
    expect(dump.request_log!.pg).toHaveLength(REQUEST_LOG_ROWS - 10);
    expect(dump.audit_log!.pg.length).toBeGreaterThanOrEqual(4);
    expect(dump.idempotency_keys!.pg).toHaveLength(2);
    expect(dump.characters!.pg).toHaveLength(2);
    expect(new Set(sqliteRows('select kind from ledger').map((r) => r.kind))).toEqual(new Set(['credit', 'hold', 'capture', 'release', 'adjustment']));
    // Real PostgreSQL types, not text.
    const [key] = await pgRows(url, "select allowed_models, disabled from api_keys where name = 'alice'");
    expect(key).toEqual({ allowed_models: ['sora-2', 'sora-2-pro'], disabled: false });
    const [carol] = await pgRows(url, "select disabled from api_keys where name = 'carol'");
    expect(carol!.disabled).toBe(true);
    expect((await pgRows(url, 'select count(*)::int as n from ledger where terminal'))[0]!.n).toBe(
      Number(sqliteRows('select count(*) as n from ledger where terminal = 1')[0]!.n),
    );
  });

  it('prints a report with the counts per table, the ledger totals per kind and the keys', () => {
    expect(report).toMatch(/^Copied .*reelay\.db into postgres:\/\/postgres:\*\*\*@/);
    expect(report).toContain('(migrated first)');
    for (const t of tablePlan()) {
      const n = Number(sqliteRows(`select count(*) as n from "${t.name}"`)[0]!.n);
      expect(report).toMatch(new RegExp(`\\n  ${t.name} +${n} rows`));
    }
    for (const l of sqliteRows('select kind, count(*) as n, sum(amount_micros) as s from ledger group by kind')) {
      const usd = `${BigInt(l.s as bigint) / 1_000_000n}.${String(BigInt(l.s as bigint) % 1_000_000n).padStart(6, '0')}`;
      expect(report).toMatch(new RegExp(`\\n  ${l.kind} +${l.n} entries +${usd.replace('.', '\\.')} USD`));
    }
    expect(report).toMatch(/Every key's balance and held amount is identical on both sides: 3 keys/);
    expect(report).toMatch(/Verified\./);
    // The URL's password never shows.
    expect(report).not.toContain(new URL(url).password);
  });

  it('keeps seq values and moves each identity sequence past them', async () => {
    for (const table of ['ledger', 'request_log', 'audit_log']) {
      const max = (await pgRows(url, `select max(seq)::text as m from ${table}`))[0]!.m;
      expect(max).toBe(String(sqliteRows(`select max(seq) as m from ${table}`)[0]!.m));
    }
    // A new row gets the next number, not a duplicate of a copied one.
    const [row] = await pgRows(
      url,
      "insert into request_log (request_id, method, route, status, duration_ms, created_at) values ('req_new', 'GET', '/healthz', 200, 1, 0) returning seq::text as seq",
    );
    expect(BigInt(row!.seq as string)).toBe(BigInt(sqliteRows('select max(seq) as m from request_log')[0]!.m as bigint) + 1n);
    await pgRows(url, "delete from request_log where request_id = 'req_new'");
  });

  it('refuses a target that already holds data, and changes nothing there', async () => {
    const before = await dumpBoth(url);
    const run = await runReelayCli(['db', 'copy', '--from', source, '--to', url], {});
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/is not empty \(api_keys: 3 rows, .*changed nothing/);
    expect(run.stderr).not.toContain(new URL(url).password);
    expect(await dumpBoth(url)).toEqual(before);

    // One key is enough to refuse (and nothing else is added).
    const other = (await target('migrated')).url;
    await pgRows(other, "insert into api_keys (id, name, prefix, hash, created_at) values ('key_x', 'x', 'sk-reelay-x', 'hash_x', 0)");
    const second = await runReelayCli(['db', 'copy', '--from', source, '--to', other], {});
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/api_keys: 1 rows/);
    expect(await pgCounts(other)).toEqual({ ...Object.fromEntries(tablePlan().map((t) => [t.name, 0])), api_keys: 1 });
  });

  it('copies into an already migrated database too (in process: the JSON report)', async () => {
    const other = (await target('migrated')).url;
    const r: CopyReport = await copySqliteToPg({ from: source, to: other, batchRows: 37 });
    expect(r.migratedTarget).toBe(false);
    expect(Object.fromEntries(r.tables.map((t) => [t.table, t.rows]))).toEqual(await pgCounts(other));
    const [k] = sqliteRows('select count(*) as n, sum(balance_micros) as b, sum(held_micros) as h from api_keys');
    expect(r.keys).toEqual({ count: 3, balanceMicros: String(k!.b), heldMicros: String(k!.h) });
    expect(r.ledger.map((l) => l.kind).sort()).toEqual(['adjustment', 'capture', 'credit', 'hold', 'release']);
    const dump = await dumpBoth(other);
    for (const [table, sides] of Object.entries(dump)) expect(sides.pg, table).toEqual(sides.sqlite);
    expect(r.sequences.map((s) => s.table).sort()).toEqual(['audit_log', 'ledger', 'request_log', 'webhook_attempts']);
  });

  it('rolls everything back when a row cannot be copied: the target stays empty', async () => {
    const broken = join(dir, 'broken.db');
    const db = new Database(source, { readonly: true });
    await db.backup(broken);
    db.close();
    const w = new Database(broken);
    // A fractional value in an integer column: PostgreSQL refuses it half-way through the copy.
    w.prepare("update jobs set progress = 12.5 where rowid = (select max(rowid) from jobs)").run();
    w.close();
    const other = (await target('empty')).url;
    await expect(copySqliteToPg({ from: broken, to: other })).rejects.toThrow(/rolled back; the target is unchanged: copying jobs/);
    expect(Object.values(await pgCounts(other)).every((n) => n === 0)).toBe(true);
  });

  it('refuses a --from file that does not exist (exit 2, naming it) and does not create it', async () => {
    const missing = join(dir, 'nope', 'missing.db');
    const other = (await target('empty')).url;
    const run = await runReelayCli(['db', 'copy', '--from', missing, '--to', other], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(missing);
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    // Nothing happened on the target either: not even the migrations.
    expect(await pgRows(other, "select to_regclass('api_keys') as r")).toEqual([{ r: null }]);
  });

  it('refuses a bad command line (exit 2) and an unreachable target (exit 1, without its password)', async () => {
    const noTo = await runReelayCli(['db', 'copy', '--from', source], {});
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toMatch(/--to is required/);
    const notPg = await runReelayCli(['db', 'copy', '--from', source, '--to', join(dir, 'other.db')], {});
    expect(notPg.code).toBe(2);
    expect(notPg.stderr).toMatch(/--to must be a postgres/);
    const port = await closedPort();
    const down = await runReelayCli(['db', 'copy', '--from', source, '--to', `postgres://reelay:hunter2-secret@127.0.0.1:${port}/reelay`], {});
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the PostgreSQL database postgres:\/\/reelay:\*\*\*@127\.0\.0\.1/);
    expect(down.stderr).not.toContain('hunter2-secret');
    const help = await runReelayCli(['db', 'copy', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: reelay db copy --from FILE --to postgres/);
  });

  it('refuses a source that is not migrated to this version, telling how to fix it', async () => {
    const old = join(dir, 'old.db');
    const db = new Database(source, { readonly: true });
    await db.backup(old);
    db.close();
    const w = new Database(old);
    w.prepare('delete from __drizzle_migrations where created_at = (select max(created_at) from __drizzle_migrations)').run();
    w.close();
    const other = (await target('empty')).url;
    await expect(copySqliteToPg({ from: old, to: other })).rejects.toThrow(Refused);
    await expect(copySqliteToPg({ from: old, to: other })).rejects.toThrow(/reelay migrate/);
  });
});

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
