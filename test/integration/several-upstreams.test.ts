import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { openStore, sqliteOpened, type OpenedStore } from '../../src/db/open.js';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey } from '../../src/keys/service.js';
import { parseUsd } from '../../src/money.js';
import { ADMIN_TOKEN, TestClock } from '../helpers/app-harness.js';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';
import { testReconciler } from '../helpers/reconciler.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { FIRST_COOLDOWN_MS } from '../../src/relay/health.js';

/**
 * Several upstreams (contract §10) through app.request(), each a real fake provider on its own
 * port with its own credential, recording what it received. Every test runs on both engines: the
 * database is a SQLite file, or a PostgreSQL database of the test's own, so a "restart" (new
 * dependencies, possibly a changed UPSTREAMS_FILE) sees the same jobs, and two instances share it.
 */
const KEY_A = 'sk-acct-a-secret-0001';
const KEY_B = 'sk-acct-b-secret-0002';
const CREDENTIALS = { ACCT_A_KEY: KEY_A, ACCT_B_KEY: KEY_B };

let dir: string;
let a: FaultUpstream;
let b: FaultUpstream;
let clock: TestClock;
/** The test's PostgreSQL database (undefined on SQLite). */
let pg: TestPgDatabase | undefined;
/** Closes every store a test opened (a failing test may leave some open). */
let opened: (() => Promise<void>)[] = [];

type UpstreamEntry = Record<string, unknown> & { id: string };

async function boot(upstreams: UpstreamEntry[], env: Record<string, string> = {}) {
  const file = join(dir, `upstreams-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ upstreams }));
  const config = loadConfig({
    ADMIN_TOKEN,
    UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', // unused: the file lists the upstreams
    UPSTREAM_API_KEY: 'sk-default-never-used',
    UPSTREAMS_FILE: file,
    DATABASE_URL: pg ? pg.url : join(dir, 'reelay.db'),
    UPSTREAM_HEADERS_TIMEOUT_MS: '400',
    UPSTREAM_BODY_TIMEOUT_MS: '400',
    ...CREDENTIALS,
    ...env,
  });
  const storage: OpenedStore =
    config.database.engine === 'sqlite' ? sqliteOpened(openMigratedDatabase(config.database.path)) : await openStore(config);
  let closed = false;
  const closeStorage = async () => {
    if (closed) return;
    closed = true;
    await storage.close();
  };
  opened.push(closeStorage);
  const deps = buildDeps(config, { storage, logger: silentLogger(), now: clock.now });
  const app = createApp(deps);
  const call = (path: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    return app.request(path, { ...init, headers });
  };
  const admin = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
    if (init.body) headers.set('content-type', 'application/json');
    return app.request(path, { ...init, headers });
  };
  const create = (key: string, body: Record<string, unknown> = {}) =>
    call('/v1/videos', { method: 'POST', key, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'a lighthouse', seconds: '4', ...body }) });
  const newKey = async (usd = '100.00') => {
    const { key, secret } = await createKey(deps.store, { name: 'k' }, clock.now());
    await deps.store.appendCredit(key.id, parseUsd(usd), 'test credit', { actor: 'test', requestId: null, now: clock.now() });
    return { id: key.id, secret };
  };
  const close = async () => {
    await deps.requestLog.flush();
    await deps.upstreams.close().catch(() => {});
    await closeStorage();
  };
  /** Every row of every table (to look for what must never be stored). */
  const database_dump = async (): Promise<unknown[]> => {
    if (storage.engine === 'sqlite') {
      const sqlite = storage.database.sqlite;
      return (sqlite.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map((t) =>
        sqlite.prepare(`select * from "${t.name}"`).all(),
      );
    }
    const pool = storage.database.pool;
    const tables = (
      await pool.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'")
    ).rows;
    expect(tables.length).toBeGreaterThan(0);
    return Promise.all(tables.map(async (t) => (await pool.query(`select * from "${t.table_name}"`)).rows));
  };
  return { deps, app, call, admin, create, newKey, close, database_dump };
}
type App = Awaited<ReturnType<typeof boot>>;

const entry = (id: 'a' | 'b', over: Record<string, unknown> = {}): UpstreamEntry => ({
  id: `acct-${id}`,
  base_url: (id === 'a' ? a : b).url,
  api_key_env: id === 'a' ? 'ACCT_A_KEY' : 'ACCT_B_KEY',
  ...over,
});

const jobOf = async (r: App, videoId: string) => ({ job: (await (await r.admin(`/admin/jobs/${videoId}`)).json()) as { upstream_id: string; status: string } });
const upstreamsOf = async (r: App) => ((await (await r.admin('/admin/upstreams')).json()) as { data: Record<string, any>[] }).data;
const creates = (u: FaultUpstream) => u.creates().length;

describe.each(['sqlite', 'postgres'] as const)('several upstreams on %s', (engine) => {
  beforeAll(async () => {
    a = await startFaultUpstream({ apiKey: KEY_A });
    b = await startFaultUpstream({ apiKey: KEY_B });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });
  beforeEach(async () => {
    pg = engine === 'postgres' ? await freshPgDatabase() : undefined;
    opened = [];
    dir = mkdtempSync(join(tmpdir(), 'reelay-upstreams-'));
    clock = new TestClock();
    a.reset();
    b.reset();
    a.requests.length = 0;
    b.requests.length = 0;
    a.jobs.clear();
    b.jobs.clear();
  });
  afterEach(async () => {
    for (const close of opened) await close().catch(() => {});
    await pg?.drop();
    await a.acceptConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('routing', () => {
    it('sends each model to an upstream that serves it, with that upstream\'s credential, and records it on the job', async () => {
      const r = await boot([entry('a', { models: ['sora-2'] }), entry('b', { models: ['sora-2-pro'] })]);
      const k = await r.newKey();
      const one = await r.create(k.secret, { model: 'sora-2' });
      const pro = await r.create(k.secret, { model: 'sora-2-pro', size: '1280x720' });
      expect(one.status).toBe(200);
      expect(pro.status).toBe(200);
      const oneId = ((await one.json()) as { id: string }).id;
      const proId = ((await pro.json()) as { id: string }).id;
      expect(a.creates().map((q) => q.headers.authorization)).toEqual([`Bearer ${KEY_A}`]);
      expect(b.creates().map((q) => q.headers.authorization)).toEqual([`Bearer ${KEY_B}`]);
      expect((await jobOf(r, oneId)).job.upstream_id).toBe('acct-a');
      expect((await jobOf(r, proId)).job.upstream_id).toBe('acct-b');
      await r.close();
      // A priced model no upstream serves: 503 upstream_unavailable with retry-after, nothing held, nothing sent.
      const only = await boot([entry('a', { models: ['sora-2'] })]);
      const k2 = await only.newKey('10.00');
      const none = await only.create(k2.secret, { model: 'sora-2-pro', size: '1280x720' });
      expect(none.status).toBe(503);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('upstream_unavailable');
      expect(none.headers.get('retry-after')).toBeTruthy();
      expect(creates(a)).toBe(1);
      expect((await only.deps.store.getKey(k2.id))!.heldMicros).toBe(0);
      await only.close();
    });

    it('max_inflight_jobs: once an upstream is full, creates spill over to the next', async () => {
      const r = await boot([entry('a', { max_inflight_jobs: 2 }), entry('b', { priority: 1 })]);
      const k = await r.newKey();
      for (let i = 0; i < 4; i++) expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(2);
      expect(creates(b)).toBe(2);
      const list = await upstreamsOf(r);
      expect(list.find((u) => u.id === 'acct-a')).toMatchObject({ inflight_jobs: 2, max_inflight_jobs: 2, jobs_24h: 2 });
      await r.close();
    });
  });

  describe('failover without duplicates', () => {
    it('connection refused: the create goes to the next upstream; one job, one hold, both attempts in the request log and /metrics', async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey('10.00');
      await a.refuseConnections();
      const res = await r.create(k.secret);
      expect(res.status).toBe(200);
      const id = ((await res.json()) as { id: string }).id;
      expect(b.jobs.has(id)).toBe(true);
      expect(creates(b)).toBe(1);
      expect((await jobOf(r, id)).job.upstream_id).toBe('acct-b');
      await r.deps.requestLog.flush();
      const rid = res.headers.get('x-request-id')!;
      const rows = ((await (await r.admin(`/admin/requests?request_id=${rid}`)).json()) as { data: Record<string, any>[] }).data;
      expect(rows.map((x) => [x.upstream_id, x.error_code]).sort()).toEqual([
        ['acct-a', 'failover_upstream_unreachable'],
        ['acct-b', null],
      ]);
      const metrics = await (await r.call('/metrics')).text();
      expect(metrics).toMatch(/reelay_upstream_create_attempts_total\{upstream="acct-a",result="unreachable"\} 1/);
      expect(metrics).toMatch(/reelay_upstream_create_attempts_total\{upstream="acct-b",result="ok"\} 1/);
      expect(await ledgerViolations(r.deps.store)).toEqual([]);
      await r.close();
    });

    it.each([429, 503])('an upstream answering %i: the create goes to the next; exactly one upstream job', async (status) => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey('10.00');
      a.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status } });
      const res = await r.create(k.secret);
      expect(res.status).toBe(200);
      expect(creates(a)).toBe(1);
      expect(a.jobs.size).toBe(0);
      expect(creates(b)).toBe(1);
      expect(b.jobs.size).toBe(1);
      const key = (await r.deps.store.getKey(k.id))!;
      expect(key.heldMicros).toBe(400_000);
      expect(await ledgerViolations(r.deps.store)).toEqual([]);
      await r.close();
    });

    it.each([
      ['a timeout after sending', { kind: 'hang' } as const, 504],
      ['a connection lost after sending', { kind: 'reset-after-body' } as const, 502],
      ['a 500', { kind: 'status', status: 500 } as const, 500],
    ])('%s is never sent anywhere else', async (_name, behaviour, status) => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey('10.00');
      a.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour });
      const res = await r.create(k.secret);
      expect(res.status).toBe(status);
      expect(creates(a)).toBe(1);
      expect(creates(b)).toBe(0);
      expect((await r.deps.store.getKey(k.id))!.heldMicros).toBe(0);
      expect(await ledgerViolations(r.deps.store)).toEqual([]);
      await r.close();
    });

    it('every upstream refuses (429/503) or is unreachable: reelay\'s own 503 upstream_unavailable with retry-after, hold released', async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey('10.00');
      a.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 429, retryAfter: '20' } });
      b.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 503 } });
      const res = await r.create(k.secret);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_unavailable');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(creates(a) + creates(b)).toBe(2);
      expect(a.jobs.size + b.jobs.size).toBe(0);
      expect((await r.deps.store.getKey(k.id))!).toMatchObject({ heldMicros: 0, balanceMicros: 10_000_000 });
      expect(await ledgerViolations(r.deps.store)).toEqual([]);
      await r.close();
    });
  });

  describe('one upstream in the file', () => {
    it("its 429 is not relayed: reelay's own 503 upstream_unavailable, with the 429's retry-after", async () => {
      const r = await boot([entry('a')]);
      const k = await r.newKey('10.00');
      a.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 429, retryAfter: '20' } });
      const res = await r.create(k.secret);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_unavailable');
      expect(res.headers.get('retry-after')).toBe('20');
      expect((await r.deps.store.getKey(k.id))!.heldMicros).toBe(0);
      // Cooling down for those 20 s: the next create is refused without a call.
      expect((await r.create(k.secret)).status).toBe(503);
      expect(creates(a)).toBe(1);
      await r.close();
    });
  });

  describe('sticky follow-ups', () => {
    it('polls, content, remix, delete and the reconciler go to the creating upstream with its credential, after the file changes and a restart', async () => {
      const first = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await first.newKey();
      const created = await first.create(k.secret);
      const id = ((await created.json()) as { id: string }).id;
      expect(a.jobs.has(id)).toBe(true);
      await first.close();

      // Restart with a file that now prefers b (and lists it first).
      const r = await boot([entry('b', { priority: 0 }), entry('a', { priority: 5, models: ['sora-2-pro'] })]);
      const before = b.requests.length;
      expect((await r.call(`/v1/videos/${id}`, { key: k.secret })).status).toBe(200);
      a.setJob(id, { status: 'completed', progress: 100, completed_at: Math.floor(clock.now() / 1000) });
      clock.advance(120_000);
      await testReconciler(r.deps).tick();
      expect((await jobOf(r, id)).job.status).toBe('completed');
      const [acctA] = (await upstreamsOf(r)).filter((u) => u.id === 'acct-a');
      expect(acctA).toMatchObject({ jobs_24h: 1, failed_24h: 0, priority: 5, models: ['sora-2-pro'] });
      expect(acctA!.p50_seconds_to_complete).toBeGreaterThanOrEqual(0);
      expect(acctA!.p95_seconds_to_complete).toBe(acctA!.p50_seconds_to_complete);
      expect((await upstreamsOf(r)).find((u) => u.id === 'acct-b')).toMatchObject({ p50_seconds_to_complete: null, p95_seconds_to_complete: null });
      const content = await r.call(`/v1/videos/${id}/content`, { key: k.secret });
      expect(content.status).toBe(200);
      await content.arrayBuffer();
      const remix = await r.call(`/v1/videos/${id}/remix`, { method: 'POST', key: k.secret, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'again' }) });
      expect(remix.status).toBe(200);
      const remixId = ((await remix.json()) as { id: string }).id;
      expect((await jobOf(r, remixId)).job.upstream_id).toBe('acct-a');
      expect((await r.call(`/v1/videos/${id}`, { method: 'DELETE', key: k.secret })).status).toBe(200);

      expect(b.requests.length).toBe(before);
      const atA = a.requests.filter((q) => q.path.includes(id));
      expect(atA.map((q) => `${q.method} ${q.path}`)).toEqual(
        expect.arrayContaining([`GET /v1/videos/${id}`, `GET /v1/videos/${id}/content`, `POST /v1/videos/${id}/remix`, `DELETE /v1/videos/${id}`]),
      );
      expect(new Set(a.requests.map((q) => q.headers.authorization))).toEqual(new Set([`Bearer ${KEY_A}`]));
      const metrics = await (await r.call('/metrics')).text();
      expect(metrics).toMatch(/reelay_upstream_requests_total\{upstream="acct-a",route="\/v1\/videos\/:id\/content"\} 1/);
      expect(metrics).not.toMatch(/reelay_upstream_requests_total\{upstream="acct-b"/);
      await r.close();
    });

    it('a removed upstream: 503 upstream_unavailable on calls that need it, finished jobs still served, admins still see the jobs', async () => {
      const first = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await first.newKey();
      const open = ((await (await first.create(k.secret)).json()) as { id: string }).id;
      const done = ((await (await first.create(k.secret)).json()) as { id: string }).id;
      a.setJob(done, { status: 'completed', progress: 100, completed_at: Math.floor(clock.now() / 1000) });
      expect((await first.call(`/v1/videos/${done}`, { key: k.secret })).status).toBe(200);
      await first.close();

      const r = await boot([entry('b')]);
      const seen = a.requests.length;
      const poll = await r.call(`/v1/videos/${open}`, { key: k.secret });
      expect(poll.status).toBe(503);
      expect(((await poll.json()) as { error: { code: string } }).error.code).toBe('upstream_unavailable');
      expect(poll.headers.get('retry-after')).toBeTruthy();
      expect((await r.call(`/v1/videos/${open}/content`, { key: k.secret })).status).toBe(503);
      expect((await r.call(`/v1/videos/${done}/remix`, { method: 'POST', key: k.secret, headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' })).status).toBe(503);
      const finished = await r.call(`/v1/videos/${done}`, { key: k.secret });
      expect(finished.status).toBe(200);
      expect(((await finished.json()) as { status: string }).status).toBe('completed');
      expect(a.requests.length).toBe(seen);
      expect((await jobOf(r, open)).job.upstream_id).toBe('acct-a');
      expect((await upstreamsOf(r)).find((u) => u.id === 'acct-a')).toMatchObject({ state: 'removed', base_url: null, inflight_jobs: 1 });
      // The reconciler leaves the job alone (nothing to ask) rather than failing it.
      await testReconciler(r.deps).tick();
      expect((await jobOf(r, open)).job.status).toBe('queued');
      await r.close();
    });

    it('a character is read back at the upstream that created it, even when that upstream is disabled for new work', async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey();
      const made = await r.call('/v1/videos/characters', { method: 'POST', key: k.secret, headers: { 'content-type': 'application/json' }, body: '{"name":"hero"}' });
      expect(made.status).toBe(200);
      const id = ((await made.json()) as { id: string }).id;
      expect((await r.admin('/admin/upstreams/acct-a', { method: 'PATCH', body: JSON.stringify({ enabled: false }) })).status).toBe(200);
      expect((await r.call(`/v1/videos/characters/${id}`, { key: k.secret })).status).toBe(200);
      const reads = a.requests.filter((q) => q.method === 'GET' && q.path === `/v1/videos/characters/${id}`);
      expect(reads.map((q) => q.headers.authorization)).toEqual([`Bearer ${KEY_A}`]);
      expect(b.requests.some((q) => q.path.startsWith('/v1/videos/characters'))).toBe(false);
      await r.close();
    });

    it('two providers handing out the same video id: each key sees its own job, at its own upstream', async () => {
      const same = () =>
        startRecordingUpstream((req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: 'video_same', object: 'video', model: 'sora-2', status: 'queued', progress: 0, seconds: '4', size: '720x1280', note: req.headers.authorization }));
        });
      const [ua, ub] = await Promise.all([same(), same()]);
      try {
        const r = await boot([
          { id: 'acct-a', base_url: ua.url, api_key_env: 'ACCT_A_KEY' },
          { id: 'acct-b', base_url: ub.url, api_key_env: 'ACCT_B_KEY', priority: 1 },
        ]);
        const k1 = await r.newKey();
        const k2 = await r.newKey();
        expect((await r.create(k1.secret)).status).toBe(200);
        expect((await r.admin('/admin/upstreams/acct-a', { method: 'PATCH', body: JSON.stringify({ enabled: false }) })).status).toBe(200);
        expect((await r.create(k2.secret)).status).toBe(200);
        const g1 = await r.call('/v1/videos/video_same', { key: k1.secret });
        const g2 = await r.call('/v1/videos/video_same', { key: k2.secret });
        expect(((await g1.json()) as { note: string }).note).toBe(`Bearer ${KEY_A}`);
        expect(((await g2.json()) as { note: string }).note).toBe(`Bearer ${KEY_B}`);
        expect(ua.requests.filter((q) => q.method === 'GET')).toHaveLength(1);
        expect(ub.requests.filter((q) => q.method === 'GET')).toHaveLength(1);
        await r.close();
      } finally {
        await ua.close();
        await ub.close();
      }
    });
  });

  describe('health', () => {
    it('five failed creates cool an upstream down (no creates for 30 s), then one trial brings it back', async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey();
      a.script({ method: 'POST', path: '/v1/videos', times: 5, behaviour: { kind: 'status', status: 503 } });
      for (let i = 0; i < 5; i++) expect((await r.create(k.secret)).status).toBe(200); // each failed over to b
      expect(creates(a)).toBe(5);
      expect(creates(b)).toBe(5);
      expect((await upstreamsOf(r)).find((u) => u.id === 'acct-a')).toMatchObject({ state: 'cooling_down', last_error: 'upstream answered 503' });
      // Cooling down: creates go straight to b.
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(5);
      clock.advance(FIRST_COOLDOWN_MS);
      // The trial: a answers, and is healthy again.
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(6);
      expect((await upstreamsOf(r)).find((u) => u.id === 'acct-a')).toMatchObject({ state: 'ok', cooldown_until: null });
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(7);
      await r.close();
    });

    it('the state is shared: a cooldown caused on one instance, and max_inflight_jobs, hold on another instance on the same database', async () => {
      const one = await boot([entry('a', { max_inflight_jobs: 3 }), entry('b', { priority: 1 })]);
      const two = await boot([entry('a', { max_inflight_jobs: 3 }), entry('b', { priority: 1 })]);
      const k = await one.newKey();
      expect((await one.create(k.secret)).status).toBe(200);
      expect((await two.create(k.secret)).status).toBe(200);
      expect((await one.create(k.secret)).status).toBe(200);
      expect((await two.create(k.secret)).status).toBe(200); // a is full (3 open jobs, counted in the database)
      expect(creates(a)).toBe(3);
      expect(creates(b)).toBe(1);
      a.script({ method: 'POST', path: '/v1/videos', times: 5, behaviour: { kind: 'status', status: 503 } });
      for (const id of [...a.jobs.keys()]) a.setJob(id, { status: 'failed', error: { code: 'x', message: 'x' } });
      clock.advance(120_000);
      await testReconciler(one.deps).tick(); // a's jobs end: room again
      for (let i = 0; i < 5; i++) expect((await (i % 2 ? one : two).create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(8);
      // Cooling down, as both instances see it.
      for (const r of [one, two]) expect((await upstreamsOf(r)).find((u) => u.id === 'acct-a')).toMatchObject({ state: 'cooling_down' });
      expect((await two.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(8);
      await one.close();
      await two.close();
    });

    it("a 429's retry-after cools the upstream down at once, for that long", async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey();
      a.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 429, retryAfter: '120' } });
      expect((await r.create(k.secret)).status).toBe(200);
      clock.advance(60_000);
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(1);
      clock.advance(61_000);
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(2);
      await r.close();
    });

    it('a manual disable (audited) holds through successes until an admin enables it again', async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey();
      const off = await r.admin('/admin/upstreams/acct-a', { method: 'PATCH', body: JSON.stringify({ enabled: false }) });
      expect(off.status).toBe(200);
      expect(await off.json()).toMatchObject({ id: 'acct-a', enabled: false, state: 'disabled' });
      for (let i = 0; i < 3; i++) expect((await r.create(k.secret)).status).toBe(200);
      clock.advance(3600_000);
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(0);
      const audit = ((await (await r.admin('/admin/audit')).json()) as { data: Record<string, any>[] }).data;
      expect(audit[0]).toMatchObject({ action: 'upstream.disable', target_id: 'acct-a' });
      expect((await r.admin('/admin/upstreams/acct-a', { method: 'PATCH', body: JSON.stringify({ enabled: true }) })).status).toBe(200);
      expect((await r.create(k.secret)).status).toBe(200);
      expect(creates(a)).toBe(1);
      expect((await r.admin('/admin/upstreams/nope', { method: 'PATCH', body: JSON.stringify({ enabled: true }) })).status).toBe(404);
      expect((await r.admin('/admin/upstreams/acct-a', { method: 'PATCH', body: JSON.stringify({ enabled: 'yes' }) })).status).toBe(400);
      await r.close();
    });
  });

  describe('credentials', () => {
    it('appear in no admin answer, /metrics or database row', async () => {
      const r = await boot([entry('a'), entry('b', { priority: 1 })]);
      const k = await r.newKey();
      await a.refuseConnections();
      expect((await r.create(k.secret)).status).toBe(200);
      await r.deps.requestLog.flush();
      const texts = [
        await (await r.admin('/admin/upstreams')).text(),
        await (await r.admin('/admin/requests')).text(),
        await (await r.admin('/admin/jobs')).text(),
        await (await r.admin('/admin/usage/export?format=json')).text(),
        await (await r.call('/metrics')).text(),
        JSON.stringify(r.deps.config),
        JSON.stringify(await r.database_dump()),
      ];
      for (const t of texts) {
        expect(t).not.toContain(KEY_A);
        expect(t).not.toContain(KEY_B);
      }
      await r.close();
    });
  });

  describe('UPSTREAMS_FILE at start-up', () => {
    it('a missing variable or a bad field stops start-up with a message naming it', () => {
      const file = join(dir, 'u.json');
      writeFileSync(file, JSON.stringify({ upstreams: [{ id: 'acct-a', base_url: 'http://x.example/v1', api_key_env: 'NOT_THERE' }] }));
      expect(() => loadConfig({ UPSTREAMS_FILE: file })).toThrow(/UPSTREAMS_FILE: upstreams\[0\] \(acct-a\)\.api_key_env: the environment variable NOT_THERE is not set/);
      writeFileSync(file, JSON.stringify({ upstreams: [{ id: 'acct-a', base_url: 'http://x.example/v1', api_key_env: 'K', weight: 0 }] }));
      expect(() => loadConfig({ UPSTREAMS_FILE: file, K: 'x' })).toThrow(/\(acct-a\)\.weight/);
      expect(() => loadConfig({ UPSTREAMS_FILE: join(dir, 'missing.json') })).toThrow(/UPSTREAMS_FILE: cannot read/);
      // Without the file: one upstream, `default`.
      expect(loadConfig({}).upstreams.map((u) => u.id)).toEqual(['default']);
    });
  });
});
