import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, TestClock, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { testReconciler } from '../helpers/reconciler.js';

let sim: SimulatorHandle;
let h: Harness;
const clock = new TestClock();

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 3600_000 });
  h = buildHarness({ upstreamUrl: sim.url, now: clock.now });
});
afterAll(async () => {
  h.close();
  await sim.close();
});

// `instanceId`: the reconciler of another process (the app's own instance has no heartbeat row, so
// to another process it is dead); by default the app's own.
const reconciler = (harness: Harness, instanceId?: string) => testReconciler(harness.deps, instanceId ? { instanceId } : {});

async function create(secret: string): Promise<string> {
  const res = await h.createJson(secret, { prompt: 'p' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

describe('jobs that vanish or never finish', () => {
  it('expires a job after three upstream 404s at least a minute apart, and releases its hold', async () => {
    const key = await h.newKey('1.00');
    const id = await create(key.secret);
    sim.sim.forget(id);
    expect((await h.call(`/v1/videos/${id}`, { key: key.secret })).status).toBe(404);
    clock.advance(10_000); // too soon: does not count
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(await h.deps.store.getJobByVideoId(id)).toMatchObject({ status: 'queued', notFoundCount: 1 });
    clock.advance(60_000);
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect((await h.deps.store.getJobByVideoId(id))!.status).not.toBe('expired');
    clock.advance(60_000);
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(await h.deps.store.getJobByVideoId(id)).toMatchObject({ status: 'expired', chargedMicros: 0, errorCode: 'vanished' });
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 1_000_000, heldMicros: 0 });
  });

  it('expires a job older than the maximum age, and records a later completion without charging', async () => {
    const key = await h.newKey('1.00');
    const id = await create(key.secret);
    clock.advance(24 * 3600_000 + 1);
    await reconciler(h).tick();
    expect(await h.deps.store.getJobByVideoId(id)).toMatchObject({ status: 'expired', errorCode: 'max_job_age' });
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 1_000_000, heldMicros: 0 });
    // The upstream finishes after all: the client polls and sees it; reelay records it, free.
    sim.sim.jobs.get(id)!.durationMs = 0;
    sim.sim.jobs.get(id)!.queuedMs = 0;
    const res = await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(((await res.json()) as { status: string }).status).toBe('completed');
    const job = (await h.deps.store.getJobByVideoId(id))!;
    expect(job.status).toBe('expired');
    expect(job.lateCompletedAt).not.toBeNull();
    expect(job.chargedMicros).toBe(0);
    expect((await h.deps.store.getKey(key.id))!.balanceMicros).toBe(1_000_000);
    expect(await ledgerViolations(h.deps.store)).toEqual([]);
  });

  it('backs off on upstream 429 with retry-after and keeps the job open', async () => {
    const key = await h.newKey('1.00');
    const id = await create(key.secret);
    const job = (await h.deps.store.getJobByVideoId(id))!;
    await h.deps.settlement.observe(job, { type: 'transient', retryAfterMs: 120_000 }, 'test', null);
    const after = (await h.deps.store.getJobByVideoId(id))!;
    expect(after.status).toBe('queued');
    expect(after.pollFailures).toBe(1);
    expect(after.nextPollAt! - clock.now()).toBeGreaterThanOrEqual(120_000);
  });

  it('releases this instance’s own pending create only once it is older than any create can take', async () => {
    const key = await h.newKey('1.00');
    const place = (id: string, at: number) =>
      h.deps.store.placeHold(
        { id, keyId: key.id, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: 4, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: 400_000, requestId: `req_${id}`, instanceId: h.deps.instance.id },
        { actor: 'test', requestId: null, now: at },
        { maxInflightJobs: null },
      );
    await place('job_own_recent', clock.now() - 5_000);
    await place('job_own_stale', clock.now() - 200_000);
    await testReconciler(h.deps, { maxCreateMs: 190_000 }).tick();
    expect(await h.deps.store.getJob('job_own_recent')).toMatchObject({ status: 'pending' });
    expect(await h.deps.store.getJob('job_own_stale')).toMatchObject({ status: 'unknown', chargedMicros: 0 });
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ heldMicros: 400_000 });
  });

  it('settles a create left pending by a process that died: released, never retried', async () => {
    const key = await h.newKey('1.00');
    const hold = await h.deps.store.placeHold(
      { id: 'job_orphan', keyId: key.id, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: 4, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: 400_000, requestId: 'req_x' },
      { actor: 'test', requestId: 'req_x', now: clock.now() - 5000 },
      { maxInflightJobs: null },
    );
    expect(hold.ok).toBe(true);
    const before = sim.sim.requestCount;
    await reconciler(h, 'a-later-process').tick();
    expect(await h.deps.store.getJob('job_orphan')).toMatchObject({ status: 'unknown', chargedMicros: 0 });
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 1_000_000, heldMicros: 0 });
    expect(sim.sim.requestCount).toBe(before);
  });
});

describe('creates whose outcome is unknown', () => {
  it('a connection reset after the upstream read the body: 502, hold released, sent exactly once', async () => {
    const up = await startRecordingUpstream((req, res) => {
      res.socket?.destroy();
    });
    const hu = buildHarness({ upstreamUrl: up.url });
    try {
      const key = await hu.newKey('1.00');
      const res = await hu.createJson(key.secret, { prompt: 'p' });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ error: { code: 'upstream_error', type: 'server_error' } });
      expect(up.requests).toHaveLength(1);
      expect(await hu.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 1_000_000, heldMicros: 0 });
      const job = hu.database.sqlite.prepare('select status, error_code from jobs').get();
      expect(job).toEqual({ status: 'unknown', error_code: 'upstream_reset' });
    } finally {
      hu.close();
      await up.close();
    }
  });

  it('an upstream that does not answer in time: 504 upstream_timeout, released, never retried', async () => {
    const up = await startRecordingUpstream(() => {
      /* never answers */
    });
    const hu = buildHarness({ upstreamUrl: up.url, env: { UPSTREAM_HEADERS_TIMEOUT_MS: '300' } });
    try {
      const key = await hu.newKey('1.00');
      const res = await hu.createJson(key.secret, { prompt: 'p' });
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ error: { code: 'upstream_timeout' } });
      expect(up.requests).toHaveLength(1);
      expect(await hu.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 1_000_000, heldMicros: 0 });
    } finally {
      hu.close();
      await up.close();
    }
  });

  it('an unreachable upstream: 503 upstream_unavailable, released', async () => {
    const hu = buildHarness({ upstreamUrl: 'http://127.0.0.1:9/v1' });
    try {
      const key = await hu.newKey('1.00');
      const res = await hu.createJson(key.secret, { prompt: 'p' });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'upstream_unavailable' } });
      expect(await hu.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 1_000_000, heldMicros: 0 });
      expect(JSON.stringify(await (await hu.createJson(key.secret, { prompt: 'p' })).json())).not.toMatch(/ECONNREFUSED|stack|at /);
    } finally {
      hu.close();
    }
  });
});

describe('idempotency keys over time', () => {
  it('replay within 24 h and create a new job after that', async () => {
    const key = await h.newKey('2.00');
    const first = await h.createJson(key.secret, { prompt: 'daily' }, { 'idempotency-key': 'daily-1' });
    const firstId = ((await first.json()) as { id: string }).id;
    clock.advance(23 * 3600_000);
    const replay = await h.createJson(key.secret, { prompt: 'daily' }, { 'idempotency-key': 'daily-1' });
    expect(((await replay.json()) as { id: string }).id).toBe(firstId);
    clock.advance(2 * 3600_000);
    const fresh = await h.createJson(key.secret, { prompt: 'daily' }, { 'idempotency-key': 'daily-1' });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(((await fresh.json()) as { id: string }).id).not.toBe(firstId);
  });

  it('are deleted by the reconciler once past their 24 h window, and kept before', async () => {
    const key = await h.newKey('1.00');
    await h.createJson(key.secret, { prompt: 'purge me' }, { 'idempotency-key': 'purge-1' });
    const count = () => (h.database.sqlite.prepare('select count(*) as n from idempotency_keys where key_id = ?').get(key.id) as { n: number }).n;
    await reconciler(h).tick();
    expect(count()).toBe(1);
    clock.advance(24 * 3600_000 + 1);
    await reconciler(h).tick();
    expect(count()).toBe(0);
  });
});

