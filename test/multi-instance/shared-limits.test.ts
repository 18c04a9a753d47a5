import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { ADMIN_TOKEN } from '../reliability/support.js';
import {
  RATE_MICROS,
  call,
  createVideo,
  killAll,
  makeKey,
  openTestStore,
  query,
  startFakeUpstream,
  startInstances,
  type ReelayProcess,
} from './cluster.js';

/**
 * Three reelay processes on one PostgreSQL database, each request sent to the next instance in
 * turn (a round-robin load balancer): a key's balance, its in-flight limit, its requests per
 * minute and an Idempotency-Key hold for all instances together, and a dashboard session opened on
 * one instance is valid on the others (contract §9).
 */
let pgdb: TestPgDatabase;
let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
let procs: ReelayProcess[] = [];
let t: ReturnType<typeof openTestStore>;

beforeAll(async () => {
  pgdb = await freshPgDatabase();
  upstream = await startFakeUpstream();
  t = openTestStore(pgdb.url);
  procs = await startInstances(3, pgdb.url, upstream.url, { ADMIN_TOKEN }, 'limits-');
}, 60_000);

afterAll(async () => {
  await killAll(procs);
  await t?.database.close();
  await upstream?.close();
  await pgdb?.drop();
});

const base = (i: number) => procs[i % procs.length]!.base;
const createsWith = (prefix: string) => upstream.creates.filter((c) => c.prompt.startsWith(prefix));

describe('several instances on one PostgreSQL database', () => {
  it('never hold more than a key’s balance: 50 concurrent creates over 3 instances, credit for exactly 10', async () => {
    // 10 × 0.40 USD and a little more, less than an 11th.
    const key = await makeKey(t.store, { name: 'balance' }, 10 * 4 * RATE_MICROS + 300_000);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => createVideo(base(i), key.secret, { model: 'sora-2', prompt: `balance ${i}`, seconds: '4' })),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('insufficient_quota');
    }
    // Exactly the accepted creates reached the upstream, each once.
    expect(createsWith('balance ')).toHaveLength(10);
    expect(new Set(ok.map((r) => r.body.id))).toEqual(new Set(createsWith('balance ').map((c) => c.id)));
    const [row] = await query<{ balance_micros: string; held_micros: string }>(t.database, 'select balance_micros, held_micros from api_keys where id = $1', [key.id]);
    expect(Number(row!.balance_micros)).toBe(10 * 4 * RATE_MICROS + 300_000);
    expect(Number(row!.held_micros)).toBe(10 * 4 * RATE_MICROS);
    const jobs = await query<{ status: string; held_micros: string }>(t.database, 'select status, held_micros from jobs where key_id = $1', [key.id]);
    expect(jobs).toHaveLength(10);
    expect(jobs.every((j) => j.status === 'queued' || j.status === 'in_progress')).toBe(true);
    expect(await ledgerViolations(t.store)).toEqual([]);
  });

  it('count a key’s jobs in flight on all instances: limit 3, 20 concurrent creates → 3 accepted, 3 upstream creates', async () => {
    const key = await makeKey(t.store, { name: 'inflight', maxInflightJobs: 3 }, 100_000_000);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createVideo(base(i), key.secret, { model: 'sora-2', prompt: `inflight ${i}`, seconds: '4' })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(3);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('rate_limit_exceeded');
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(createsWith('inflight ')).toHaveLength(3);
    const [row] = await query<{ held_micros: string }>(t.database, 'select held_micros from api_keys where id = $1', [key.id]);
    expect(Number(row!.held_micros)).toBe(3 * 4 * RATE_MICROS);
    expect(await ledgerViolations(t.store)).toEqual([]);
  });

  it('count a key’s requests per minute on all instances together: rpm 6, 12 requests over 3 instances → 6 pass', async () => {
    const key = await makeKey(t.store, { name: 'rpm', rpmLimit: 6 }, 0);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call(`${base(i)}/v1/videos`, { headers: { authorization: `Bearer ${key.secret}` } })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(6);
    const limited = results.filter((r) => r.status !== 200);
    expect(limited).toHaveLength(6);
    for (const r of limited) {
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('rate_limit_exceeded');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The limit holds on each instance afterwards, too.
    for (let i = 0; i < 3; i++) expect((await call(`${base(i)}/v1/videos`, { headers: { authorization: `Bearer ${key.secret}` } })).status).toBe(429);
  });

  it('claim an Idempotency-Key once for all instances: the same key on two instances at once makes one upstream job', async () => {
    const key = await makeKey(t.store, { name: 'idem' }, 100_000_000);
    upstream.state.createDelayMs = 1000;
    const body = { model: 'sora-2', prompt: 'idem once', seconds: '8' };
    let results;
    try {
      results = await Promise.all([createVideo(base(0), key.secret, body, 'same-key-1'), createVideo(base(1), key.secret, body, 'same-key-1')]);
    } finally {
      upstream.state.createDelayMs = 0;
    }
    expect(createsWith('idem once')).toHaveLength(1);
    const videoId = createsWith('idem once')[0]!.id;
    const first = results.find((r) => r.status === 200 && r.headers.get('idempotent-replayed') !== 'true');
    expect(first?.body.id).toBe(videoId);
    const other = results.find((r) => r !== first)!;
    if (other.status === 409) {
      expect(other.body.error.code).toBe('idempotency_key_in_use');
      expect(Number(other.headers.get('retry-after'))).toBeGreaterThan(0);
    } else {
      expect(other.status).toBe(200);
      expect(other.headers.get('idempotent-replayed')).toBe('true');
      expect(other.body.id).toBe(videoId);
    }
    // A retry on the third instance after completion gets the replay.
    const retry = await createVideo(base(2), key.secret, body, 'same-key-1');
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.id).toBe(videoId);
    expect(createsWith('idem once')).toHaveLength(1);
    const jobs = await query(t.database, 'select id from jobs where key_id = $1', [key.id]);
    expect(jobs).toHaveLength(1);
    const [row] = await query<{ held_micros: string }>(t.database, 'select held_micros from api_keys where id = $1', [key.id]);
    expect(Number(row!.held_micros)).toBe(8 * RATE_MICROS);
  });

  it('share dashboard sessions: logged in on A, the page on B shows the dashboard; logged out on B, A refuses the cookie', async () => {
    const [a, b] = [procs[0]!, procs[1]!];
    const form = await fetch(`${a.base}/admin/ui/login`);
    expect(form.status).toBe(200);
    const field = /name="_login"\s+value="([^"]+)"/.exec(await form.text())![1]!;
    const loginCookie = form.headers.get('set-cookie')!.split(';')[0]!;
    const login = await fetch(`${a.base}/admin/ui/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', cookie: loginCookie },
      body: new URLSearchParams({ _login: field, token: ADMIN_TOKEN }).toString(),
    });
    expect(login.status).toBe(303);
    const session = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => !c.endsWith('=') && c !== loginCookie);
    expect(session).toBeDefined();

    const page = await fetch(`${b.base}/admin/ui`, { headers: { cookie: session! }, redirect: 'manual' });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('action="/admin/ui/logout"');
    expect(html).not.toContain('name="_login"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    // The page on A works too, before the logout.
    expect((await fetch(`${a.base}/admin/ui`, { headers: { cookie: session! }, redirect: 'manual' })).status).toBe(200);

    const logout = await fetch(`${b.base}/admin/ui/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', cookie: session! },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(logout.status).toBe(303);
    const after = await fetch(`${a.base}/admin/ui`, { headers: { cookie: session! }, redirect: 'manual' });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/admin/ui/login');
  });
});
