/**
 * The hot path keeps a key's row and a job's row in memory for a moment (see KEY_AUTH_CACHE_MS,
 * JOB_ROW_CACHE_MS) and skips writing polls that learn nothing. None of that may change what a
 * client sees: these tests prove revocation, disabling, deletion and settlement take effect on the
 * very next request, and that a poll which changes something is still recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, ADMIN_TOKEN } from '../helpers/app-harness.js';
import { TestClock } from '../helpers/clock.js';
import { JOB_ROW_CACHE_MS } from '../../src/db/job-row-cache.js';

let sim: SimulatorHandle;
let h: ReturnType<typeof buildHarness>;
// The upstream's jobs move on only when a test advances this clock, however loaded the machine.
const JOB_MS = 400;
const upstreamClock = new TestClock();

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: JOB_MS, queuedMs: 50, apiKey: 'sk-upstream-secret-0001', now: upstreamClock.now });
  h = buildHarness({ upstreamUrl: sim.url });
});

afterAll(async () => {
  await h.deps.requestLog.stop();
  await h.deps.upstreams.close().catch(() => {});
  await sim.close();
});

const admin = (path: string, method: string, body?: unknown) =>
  h.app.request(path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function createVideo(secret: string): Promise<string> {
  const res = await h.createJson(secret, { prompt: 'a lighthouse', seconds: '4' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

async function finishedVideo(secret: string): Promise<string> {
  const id = await createVideo(secret);
  upstreamClock.advance(JOB_MS);
  const res = await h.call(`/v1/videos/${id}`, { key: secret });
  expect(((await res.json()) as { status: string }).status).toBe('completed');
  return id;
}

describe('key authentication cache', () => {
  it('a revoked key is refused on its very next request', async () => {
    const k = await h.newKey('10.00');
    expect((await h.call('/v1/models', { key: k.secret })).status).toBe(200);
    expect((await admin(`/admin/keys/${k.id}`, 'DELETE')).status).toBe(200);
    expect((await h.call('/v1/models', { key: k.secret })).status).toBe(401);
  });

  it('a disabled key is refused at once, and works again once re-enabled', async () => {
    const k = await h.newKey('10.00');
    expect((await h.call('/v1/models', { key: k.secret })).status).toBe(200);
    expect((await admin(`/admin/keys/${k.id}`, 'PATCH', { disabled: true })).status).toBe(200);
    expect((await h.call('/v1/models', { key: k.secret })).status).toBe(401);
    expect((await admin(`/admin/keys/${k.id}`, 'PATCH', { disabled: false })).status).toBe(200);
    expect((await h.call('/v1/models', { key: k.secret })).status).toBe(200);
  });

  it('a changed model allow-list applies to the next request', async () => {
    const k = await h.newKey('10.00');
    expect((await h.createJson(k.secret, { prompt: 'p', model: 'sora-2' })).status).toBe(200);
    expect((await admin(`/admin/keys/${k.id}`, 'PATCH', { allowed_models: ['sora-2-pro'] })).status).toBe(200);
    expect((await h.createJson(k.secret, { prompt: 'p', model: 'sora-2' })).status).toBe(403);
  });
});

describe('finished jobs served from memory', () => {
  it('serves a finished video from the stored object without calling the upstream', async () => {
    const k = await h.newKey('10.00');
    const id = await finishedVideo(k.secret);
    const before = sim.sim.requestCount;
    for (let i = 0; i < 3; i++) {
      const res = await h.call(`/v1/videos/${id}`, { key: k.secret });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-reelay-cache')).toBe('final');
    }
    expect(sim.sim.requestCount).toBe(before);
  });

  it('a deleted video answers 404 on the next poll, and other keys never see it', async () => {
    const k = await h.newKey('10.00');
    const other = await h.newKey('10.00');
    const id = await finishedVideo(k.secret);
    expect((await h.call(`/v1/videos/${id}`, { key: k.secret })).status).toBe(200);
    expect((await h.call(`/v1/videos/${id}`, { key: other.secret })).status).toBe(404);
    expect((await h.call(`/v1/videos/${id}`, { key: k.secret, method: 'DELETE' })).status).toBe(200);
    expect((await h.call(`/v1/videos/${id}`, { key: k.secret })).status).toBe(404);
  });
});

describe('polls of a running job', () => {
  it('record a change of status and progress, and leave the row alone when nothing changed', async () => {
    const k = await h.newKey('10.00');
    const id = await createVideo(k.secret);
    const job = async () => (await h.deps.store.getJobByVideoId(id))!;
    // Once the upstream reports progress, the row shows what the poll saw.
    upstreamClock.advance(200);
    const seen = (await (await h.call(`/v1/videos/${id}`, { key: k.secret })).json()) as { status: string; progress: number };
    expect(seen).toMatchObject({ status: 'in_progress', progress: expect.any(Number) });
    expect(seen.progress).toBeGreaterThan(0);
    expect((await job()).status).toBe('in_progress');
    const written = (await job()).updatedAt;
    // The same answer again, long before the next poll is due: nothing to write.
    const again = await job();
    await h.deps.settlement.observe(again, { type: 'object', object: { id, status: again.status, progress: again.progress }, raw: '{}' }, 'test', null);
    expect((await job()).updatedAt).toBe(written);
    // A different progress is written.
    await h.deps.settlement.observe(again, { type: 'object', object: { id, status: 'in_progress', progress: (again.progress ?? 0) + 1 }, raw: '{}' }, 'test', null);
    expect((await job()).progress).toBe((again.progress ?? 0) + 1);
  });
});

describe('running jobs: the row reused between polls', () => {
  const poll = async (secret: string, id: string) => {
    const res = await h.call(`/v1/videos/${id}`, { key: secret });
    return { status: res.status, cache: res.headers.get('x-reelay-cache'), body: (await res.json()) as { status?: string } };
  };

  it('a job settled by the reconciler is answered from its final object on the next poll', async () => {
    const k = await h.newKey('10.00');
    const id = await createVideo(k.secret);
    expect((await poll(k.secret, id)).cache).toBeNull(); // proxied, and its row is now reused
    const job = (await h.deps.store.getJobByVideoId(id))!;
    await h.deps.settlement.observe(job, { type: 'object', object: { id, status: 'failed', error: { code: 'x' } }, raw: JSON.stringify({ id, object: 'video', status: 'failed' }) }, 'system', null);
    const before = sim.sim.requestCount;
    const next = await poll(k.secret, id);
    expect(next).toMatchObject({ status: 200, cache: 'final', body: { status: 'failed' } });
    expect(sim.sim.requestCount).toBe(before);
  });

  it('a running job deleted by its owner answers 404 on the next poll', async () => {
    const k = await h.newKey('10.00');
    const id = await createVideo(k.secret);
    expect((await poll(k.secret, id)).status).toBe(200);
    expect((await h.call(`/v1/videos/${id}`, { key: k.secret, method: 'DELETE' })).status).toBe(200);
    const before = sim.sim.requestCount;
    expect((await poll(k.secret, id)).status).toBe(404);
    expect(sim.sim.requestCount).toBe(before); // reelay's own 404, not the upstream's
  });

  it('a change made outside this process is seen within JOB_ROW_CACHE_MS', async () => {
    const k = await h.newKey('10.00');
    const id = await createVideo(k.secret);
    expect((await poll(k.secret, id)).status).toBe(200);
    // Another instance on the same database deletes the video: this process's store is not told.
    h.deps.database.sqlite.prepare('update jobs set deleted_at = ? where video_id = ?').run(Date.now(), id);
    await new Promise((r) => setTimeout(r, JOB_ROW_CACHE_MS + 50));
    expect((await poll(k.secret, id)).status).toBe(404);
  });
});
