/**
 * A poll of a running job that sees nothing new only moves the job's next poll time on, and those
 * moves are written in batches (deferPollSchedule): at most one transaction a second, and before
 * every reconciler pass. These tests prove the batching, that the reconciler then leaves the polled
 * jobs alone, and that a batched move never undoes a settlement, a failure's backoff or a newer
 * schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, TestClock, type Harness } from '../helpers/app-harness.js';
import { testReconciler } from '../helpers/reconciler.js';
import { POLL_SCHEDULE_FLUSH_MS } from '../../src/db/jobs-store.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startReelay } from '../../src/server.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey } from '../../src/keys/service.js';

let sim: SimulatorHandle;
let h: Harness;
// The upstream's jobs never move on (its clock stands still), so every poll sees nothing new.
const upstreamClock = new TestClock();
const clock = new TestClock();

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 60_000, queuedMs: 10, now: upstreamClock.now });
  h = buildHarness({ upstreamUrl: sim.url, now: clock.now });
});
afterAll(async () => {
  await h.deps.upstreams.close().catch(() => {});
  h.close();
  await sim.close();
});

const reconciler = () => testReconciler(h.deps);

async function runningJobs(secret: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await h.createJson(secret, { prompt: 'p' });
    expect(res.status).toBe(200);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

const poll = async (secret: string, id: string) => expect((await h.call(`/v1/videos/${id}`, { key: secret })).status).toBe(200);
const row = async (id: string) => (await h.deps.store.getJobByVideoId(id))!;

describe('polls that see nothing new', () => {
  it('write nothing before the job is due, and batch the schedule moves once it is', async () => {
    const k = await h.newKey('10.00');
    // Flush whatever earlier polls left, so this test starts a fresh one-second window.
    await h.deps.store.flushPollSchedule(clock.now());
    const [a, b, c] = await runningJobs(k.secret, 3);
    const written = (await row(a!)).updatedAt;
    await poll(k.secret, a!);
    expect((await row(a!)).updatedAt).toBe(written); // not yet due: no statement at all

    clock.advance(5000); // all three are due now
    await poll(k.secret, a!); // the first move after a quiet second is written at once
    expect((await row(a!)).nextPollAt).toBeGreaterThan(clock.now());
    await poll(k.secret, b!);
    await poll(k.secret, c!);
    // Within the same second these two wait for the next batch.
    expect((await row(b!)).nextPollAt).toBeLessThanOrEqual(clock.now());
    expect((await row(c!)).nextPollAt).toBeLessThanOrEqual(clock.now());

    // A later move, a second on, writes the whole batch in one go.
    clock.advance(POLL_SCHEDULE_FLUSH_MS);
    const [d] = await runningJobs(k.secret, 1);
    clock.advance(5000);
    await poll(k.secret, d!);
    for (const id of [b!, c!, d!]) expect((await row(id)).nextPollAt).toBeGreaterThan(clock.now() - 5000);
    expect((await row(d!)).nextPollAt).toBeGreaterThan(clock.now());
  });

  it('are written before a reconciler pass, which then leaves the polled jobs alone', async () => {
    const k = await h.newKey('10.00');
    // Earlier tests' jobs are not this test's business: schedule them far ahead.
    h.database.sqlite.prepare('update jobs set next_poll_at = ?').run(clock.now() + 24 * 3600_000);
    const ids = await runningJobs(k.secret, 3);
    clock.advance(5000);
    await h.deps.store.flushPollSchedule(clock.now()); // a write just happened: the next moves wait
    for (const id of ids) await poll(k.secret, id);
    for (const id of ids) expect((await row(id)).nextPollAt).toBeLessThanOrEqual(clock.now());
    const before = sim.sim.requestCount;
    await reconciler().tick();
    expect(sim.sim.requestCount).toBe(before); // nothing was due any more
    for (const id of ids) expect((await row(id)).nextPollAt).toBeGreaterThan(clock.now());
  });

  it('never undo a settlement, a failure backoff or a later schedule', async () => {
    const k = await h.newKey('10.00');
    const [settled, failing, later] = await runningJobs(k.secret, 3);
    clock.advance(5000);
    await h.deps.store.flushPollSchedule(clock.now());
    for (const id of [settled!, failing!, later!]) await poll(k.secret, id);
    const now = clock.now();

    // Meanwhile: one job settles, one poll fails and backs off, one is scheduled further ahead.
    await h.deps.settlement.observe(await row(settled!), { type: 'object', object: { id: settled, status: 'failed', error: { code: 'x' } }, raw: '{}' }, 'test', null);
    await h.deps.settlement.observe(await row(failing!), { type: 'transient', retryAfterMs: 600_000 }, 'test', null);
    await h.deps.store.recordProgress((await row(later!)).id, { status: 'in_progress', progress: 7, nextPollAt: now + 3600_000 }, now);

    await h.deps.store.flushPollSchedule(now);
    expect(await row(settled!)).toMatchObject({ status: 'failed', nextPollAt: null });
    expect(await row(failing!)).toMatchObject({ pollFailures: 1 });
    expect((await row(failing!)).nextPollAt).toBeGreaterThanOrEqual(now + 600_000);
    expect((await row(later!)).nextPollAt).toBe(now + 3600_000);
  });

  it('still waiting at shutdown are written before the database closes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'reelay-schedule-')), 'reelay.db');
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: file, UPSTREAM_BASE_URL: sim.url, ADMIN_TOKEN: 'schedule-admin-token-0123456789' });
    const server = await startReelay(config, { now: clock.now, logger: silentLogger(), reconciler: false });
    const { key, secret } = await createKey(server.deps.store, { name: 'k' }, clock.now());
    await server.deps.store.appendCredit(key.id, 10_000_000, 'test credit', { actor: 'test', requestId: null, now: clock.now() });
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/v1/videos`, { method: 'POST', headers, body: JSON.stringify({ prompt: 'p' }) });
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { id: string }).id);
    }
    clock.advance(5000);
    await server.deps.store.flushPollSchedule(clock.now()); // the next moves wait for a batch
    for (const id of ids) expect((await fetch(`${server.url}/v1/videos/${id}`, { headers })).status).toBe(200);
    expect((await server.deps.store.getJobByVideoId(ids[1]!))!.nextPollAt).toBeLessThanOrEqual(clock.now());
    await server.close(1000);

    const reopened = openMigratedDatabase(file);
    try {
      const rows = reopened.sqlite.prepare('select next_poll_at as nextPollAt from jobs').all() as { nextPollAt: number }[];
      expect(rows).toHaveLength(2);
      for (const r of rows) expect(r.nextPollAt).toBeGreaterThan(clock.now());
    } finally {
      reopened.close();
    }
  });
});
