/**
 * The business metrics: settlements counted once each, by outcome, with the money they captured
 * and released; the money held, the open jobs and the reconciler's lag read from the database at
 * scrape time. reelay and the simulator share a test clock: jobs finish when a test says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, TestClock, type Harness } from '../helpers/app-harness.js';
import { testReconciler } from '../helpers/reconciler.js';
import { parseExposition, sampleValue, valueOr0, type Exposition } from '../helpers/prometheus.js';

const JOB_MS = 60_000;
const OUTCOMES = ['completed', 'failed', 'expired', 'rejected', 'unknown'] as const;

let sim: SimulatorHandle;
const clock = new TestClock();

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: JOB_MS, now: clock.now });
});
afterAll(async () => {
  await sim.close();
});

async function scrape(h: Harness): Promise<Exposition> {
  const res = await h.app.request('/metrics');
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

/** The figures a settlement moves, from one scrape. */
function settlementFigures(e: Exposition) {
  const settled = Object.fromEntries(OUTCOMES.map((o) => [o, valueOr0(e, 'reelay_jobs_settled_total', { outcome: o, upstream: 'default' })]));
  return { settled, captured: valueOr0(e, 'reelay_usd_captured_total'), released: valueOr0(e, 'reelay_usd_released_total') };
}

/** What changed between two scrapes: settlements per outcome, dollars captured and released. */
function delta(before: Exposition, after: Exposition) {
  const a = settlementFigures(before);
  const b = settlementFigures(after);
  return {
    settled: Object.fromEntries(OUTCOMES.map((o) => [o, b.settled[o]! - a.settled[o]!])),
    captured: b.captured - a.captured,
    released: b.released - a.released,
  };
}

const noSettlements = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));

async function create(h: Harness, secret: string, prompt = 'a lighthouse'): Promise<Response> {
  return h.createJson(secret, { prompt, seconds: '4' });
}

async function createId(h: Harness, secret: string, prompt?: string): Promise<string> {
  const res = await create(h, secret, prompt);
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

describe('settlement counters', () => {
  let h: Harness;
  beforeAll(() => {
    h = buildHarness({ upstreamUrl: sim.url, now: clock.now });
  });
  afterAll(() => h.close());

  it('shows every outcome from the start, at 0, for the one upstream', async () => {
    const e = await scrape(h);
    for (const outcome of OUTCOMES) expect(sampleValue(e, 'reelay_jobs_settled_total', { outcome, upstream: 'default' }), outcome).toBe(0);
    expect(sampleValue(e, 'reelay_usd_captured_total')).toBe(0);
    expect(sampleValue(e, 'reelay_usd_released_total')).toBe(0);
  });

  it('counts a completed job once, with the charge it captured', async () => {
    const key = await h.newKey('10.00');
    const id = await createId(h, key.secret);
    const before = await scrape(h);
    clock.advance(JOB_MS + 1000);
    const res = await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(((await res.json()) as { status: string }).status).toBe('completed');
    const job = (await h.deps.store.getJobByVideoId(id))!;
    expect(job.chargedMicros).toBeGreaterThan(0);
    const d = delta(before, await scrape(h));
    expect(d.settled).toEqual({ ...noSettlements, completed: 1 });
    expect(d.captured).toBeCloseTo(job.chargedMicros / 1e6, 9);
    expect(d.released).toBeCloseTo((job.heldMicros - job.chargedMicros) / 1e6, 9);

    // Seen again by the client and by the reconciler: already settled, not counted again.
    const again = await scrape(h);
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    await testReconciler(h.deps).tick();
    expect(delta(again, await scrape(h))).toEqual({ settled: noSettlements, captured: 0, released: 0 });
  });

  it('counts a failed job as failed, releasing its whole hold', async () => {
    const key = await h.newKey('10.00');
    const id = await createId(h, key.secret, 'a lighthouse [fail]');
    const before = await scrape(h);
    clock.advance(JOB_MS + 1000);
    const res = await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(((await res.json()) as { status: string }).status).toBe('failed');
    const job = (await h.deps.store.getJobByVideoId(id))!;
    const d = delta(before, await scrape(h));
    expect(d.settled).toEqual({ ...noSettlements, failed: 1 });
    expect(d.captured).toBe(0);
    expect(job.heldMicros).toBeGreaterThan(0);
    expect(d.released).toBeCloseTo(job.heldMicros / 1e6, 9);
  });

  it('counts a create the upstream refused as rejected, releasing its hold', async () => {
    const key = await h.newKey('10.00');
    const before = await scrape(h);
    const res = await create(h, key.secret, 'a lighthouse [reject]');
    expect(res.status).toBeGreaterThanOrEqual(400);
    const d = delta(before, await scrape(h));
    expect(d.settled).toEqual({ ...noSettlements, rejected: 1 });
    expect(d.captured).toBe(0);
    expect(d.released).toBeCloseTo(0.4, 9); // sora-2, 4 s at $0.10
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 10_000_000, heldMicros: 0 });
  });

  it('counts a job the reconciler expires as expired', async () => {
    const key = await h.newKey('10.00');
    await createId(h, key.secret);
    const before = await scrape(h);
    clock.advance(24 * 3600_000 + 1);
    sim.sim.jobs.clear(); // the upstream no longer answers for it: only the age limit ends it
    await testReconciler(h.deps).tick();
    const d = delta(before, await scrape(h));
    expect(d.settled).toEqual({ ...noSettlements, expired: 1 });
    expect(d.captured).toBe(0);
    expect(d.released).toBeCloseTo(0.4, 9);
  });
});

describe('what is open, read from the database at scrape time', () => {
  let h: Harness;
  beforeAll(() => {
    h = buildHarness({ upstreamUrl: sim.url, now: clock.now });
  });
  afterAll(() => h.close());

  it('shows the money held and the jobs in flight with the upstream', async () => {
    const idle = await scrape(h);
    expect(sampleValue(idle, 'reelay_usd_held')).toBe(0);
    expect(sampleValue(idle, 'reelay_upstream_inflight_jobs', { upstream: 'default' })).toBe(0);

    const key = await h.newKey('10.00');
    const id = await createId(h, key.secret);
    const open = await scrape(h);
    expect((await h.deps.store.getKey(key.id))!.heldMicros).toBe(400_000);
    expect(sampleValue(open, 'reelay_usd_held')).toBe(0.4);
    expect(sampleValue(open, 'reelay_upstream_inflight_jobs', { upstream: 'default' })).toBe(1);

    clock.advance(JOB_MS + 1000);
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    const done = await scrape(h);
    expect(sampleValue(done, 'reelay_usd_held')).toBe(0);
    expect(sampleValue(done, 'reelay_upstream_inflight_jobs', { upstream: 'default' })).toBe(0);
  });

  it('shows how overdue the most overdue poll is, 0 when none is', async () => {
    const key = await h.newKey('10.00');
    const first = await createId(h, key.secret);
    clock.advance(500);
    await createId(h, key.secret);
    const firstDue = (await h.deps.store.getJobByVideoId(first))!.nextPollAt!;
    expect(firstDue).toBeGreaterThan(clock.now());
    expect(sampleValue(await scrape(h), 'reelay_reconciler_lag_seconds')).toBe(0);

    clock.advance(firstDue - clock.now() + 7_250);
    expect(sampleValue(await scrape(h), 'reelay_reconciler_lag_seconds')).toBe(7.25);

    // Once the reconciler has polled them and their next polls are written (a poll that saw
    // nothing new is written within a second, or before the next pass), nothing is overdue.
    await testReconciler(h.deps).tick();
    await h.deps.store.flushPollSchedule(clock.now());
    expect(sampleValue(await scrape(h), 'reelay_reconciler_lag_seconds')).toBe(0);
  });
});
