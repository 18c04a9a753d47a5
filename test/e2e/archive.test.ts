import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import OpenAI from 'openai';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { silentLogger } from '../../src/logging/logger.js';
import { relayedGarbage } from '../../src/relay/relayed-garbage.js';
import { until } from '../helpers/until.js';

/**
 * The archive (contract §11) end to end: a real reelay server with the directory store, the
 * simulator as an upstream that deletes content 2.5 s after completion, the official SDK.
 */
const asset = (name: string) => readFileSync(new URL(`../../src/simulator/assets/${name}`, import.meta.url));
const RETENTION_MS = 2500;
const JOB_MS = 200;

interface Setup {
  sim: SimulatorHandle;
  reelay: RunningReelay;
  client: OpenAI;
  secret: string;
  keyId: string;
  dir: string;
}

async function setup(env: Record<string, string>): Promise<Setup> {
  const sim = await startSimulator({ jobDurationMs: JOB_MS, apiKey: 'sk-up', contentRetentionMs: RETENTION_MS });
  const dir = mkdtempSync(join(tmpdir(), 'reelay-archive-'));
  const reelay = await startReelay(
    loadConfig({
      PORT: '0',
      DATABASE_URL: join(dir, 'r.db'),
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_API_KEY: 'sk-up',
      ADMIN_TOKEN: 'archive-admin-token-0123456789',
      RECONCILER_INTERVAL_MS: '100',
      RECONCILER_MIN_POLL_MS: '100',
      ARCHIVE_URL: `file:${join(dir, 'archive')}`,
      ...env,
    }),
    { logger: silentLogger(), archiveTiming: { intervalMs: 50, retryBaseMs: 100, purgeIntervalMs: 200 } },
  );
  const { key, secret } = await createKey(reelay.deps.store, { name: 'archive' }, Date.now());
  await reelay.deps.store.appendCredit(key.id, 50_000_000, 'test', { actor: 'test', requestId: null, now: Date.now() });
  const client = new OpenAI({ apiKey: secret, baseURL: `${reelay.url}/v1`, maxRetries: 0 });
  return { sim, reelay, client, secret, keyId: key.id, dir };
}

async function teardown(s: Setup) {
  await s.reelay.close(1000);
  await s.sim.close();
}

/** Creates a video and waits until the SDK sees it completed. */
async function completedVideo(s: Setup, prompt = 'a lighthouse') {
  const v = await s.client.videos.create({ prompt, model: 'sora-2', seconds: '4', size: '720x1280' });
  return until('completion', async () => {
    const r = await s.client.videos.retrieve(v.id);
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  });
}

const taskOf = async (s: Setup, videoId: string) => {
  const job = (await s.reelay.deps.store.getJobByVideoId(videoId))!;
  return { job, task: await s.reelay.deps.store.getArchiveTask(job.id) };
};

describe('archive on a directory', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup({ ARCHIVE_RETENTION_DAYS: '30' });
  });
  afterAll(async () => teardown(s));

  it('serves a video after the upstream deleted it, bytes identical, through the SDK; expires_at reflects the archive', async () => {
    const video = await completedVideo(s);
    expect(video.status).toBe('completed');
    await until('archived', async () => (await taskOf(s, video.id)).task?.state === 'archived');
    const { job, task } = await taskOf(s, video.id);
    expect(task!.bytes).toBe(asset('sample.mp4').length + asset('thumbnail.webp').length + asset('spritesheet.jpg').length);
    // Owner-only files, complete ones only (no .part left).
    const files = readdirSync(join(s.dir, 'archive', job.id)).sort();
    expect(files).toEqual(['spritesheet', 'thumbnail', 'video']);
    for (const f of files) expect(statSync(join(s.dir, 'archive', job.id, f)).mode & 0o777).toBe(0o600);
    expect(statSync(join(s.dir, 'archive', job.id)).mode & 0o777).toBe(0o700);
    // Wait for the upstream to delete its copy.
    await until('upstream expiry', async () => {
      const res = await fetch(`${s.sim.url}/videos/${video.id}/content`, { headers: { authorization: 'Bearer sk-up' } });
      await res.arrayBuffer();
      return res.status === 404;
    });
    // The archive's file reads feed the same scavenge valve as relayed upstream bytes.
    const noted = vi.spyOn(relayedGarbage, 'note');
    const content = await s.client.videos.downloadContent(video.id);
    expect(content.headers.get('x-reelay-archive')).toBe('hit');
    expect(content.headers.get('content-type')).toBe('video/mp4');
    expect(content.headers.get('cache-control')).toBe('private, no-store');
    expect(Buffer.from(await content.arrayBuffer()).equals(asset('sample.mp4'))).toBe(true);
    expect(noted.mock.calls.reduce((sum, [bytes]) => sum + bytes, 0)).toBe(asset('sample.mp4').length);
    noted.mockRestore();
    const thumb = await s.client.videos.downloadContent(video.id, { variant: 'thumbnail' });
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(Buffer.from(await thumb.arrayBuffer()).equals(asset('thumbnail.webp'))).toBe(true);
    const sprite = await s.client.videos.downloadContent(video.id, { variant: 'spritesheet' });
    expect(Buffer.from(await sprite.arrayBuffer()).equals(asset('spritesheet.jpg'))).toBe(true);
    // expires_at: the archive's (completion + 30 days), later than the upstream's.
    const again = await s.client.videos.retrieve(video.id);
    const archiveS = Math.floor((task!.completedAt + 30 * 86_400_000) / 1000);
    expect(again.expires_at).toBe(archiveS);
    const list = await s.client.videos.list();
    expect(list.data.find((v) => v.id === video.id)!.expires_at).toBe(archiveS);
  });

  it('answers ranges from the archive: 206 with content-range, suffix ranges, 416 when unsatisfiable', async () => {
    const video = await completedVideo(s);
    await until('archived', async () => (await taskOf(s, video.id)).task?.state === 'archived');
    const mp4 = asset('sample.mp4');
    const get = (range: string) => fetch(`${s.reelay.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${s.secret}`, range } });
    let res = await get('bytes=100-199');
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-199/${mp4.length}`);
    expect(res.headers.get('content-length')).toBe('100');
    expect(res.headers.get('x-reelay-archive')).toBe('hit');
    expect(Buffer.from(await res.arrayBuffer()).equals(mp4.subarray(100, 200))).toBe(true);
    res = await get('bytes=-500');
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${mp4.length - 500}-${mp4.length - 1}/${mp4.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(mp4.subarray(mp4.length - 500))).toBe(true);
    res = await get(`bytes=${mp4.length - 10}-`);
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(mp4.subarray(mp4.length - 10))).toBe(true);
    res = await get(`bytes=${mp4.length}-`);
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${mp4.length}`);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('range_not_satisfiable');
  });

  it('DELETE removes the archived copies, even after the upstream deleted its own', async () => {
    const video = await completedVideo(s);
    await until('archived', async () => (await taskOf(s, video.id)).task?.state === 'archived');
    const { job } = await taskOf(s, video.id);
    await until('upstream expiry', async () => {
      const res = await fetch(`${s.sim.url}/videos/${video.id}/content`, { headers: { authorization: 'Bearer sk-up' } });
      await res.arrayBuffer();
      return res.status === 404;
    });
    // The simulator forgets the job on delete; simulate "already deleted upstream" by deleting it there first.
    await fetch(`${s.sim.url}/videos/${video.id}`, { method: 'DELETE', headers: { authorization: 'Bearer sk-up' } });
    const deleted = await s.client.videos.delete(video.id);
    expect(deleted.deleted).toBe(true);
    expect((await taskOf(s, video.id)).task).toMatchObject({ state: 'deleted' });
    expect((await taskOf(s, video.id)).task!.purgedAt).not.toBeNull();
    expect(readdirSync(join(s.dir, 'archive', job.id))).toEqual([]);
    const res = await fetch(`${s.reelay.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${s.secret}` } });
    expect(res.status).toBe(404);
  });

  it('does not archive a failed job, which costs nothing', async () => {
    const video = await completedVideo(s, 'a storm [fail]');
    expect(video.status).toBe('failed');
    const { job, task } = await taskOf(s, video.id);
    expect(task).toBeUndefined();
    expect(job.chargedMicros).toBe(0);
    expect(await s.reelay.deps.store.ledgerViolations()).toEqual([]);
  });

  it('counts archived bytes and shows the queue on /metrics, and the admin job view shows the archive state', async () => {
    const text = await (await fetch(`${s.reelay.url}/metrics`)).text();
    const bytes = Number(/^reelay_archive_bytes_total (\d+)/m.exec(text)?.[1]);
    expect(bytes).toBeGreaterThan(asset('sample.mp4').length);
    expect(text).toMatch(/^reelay_archive_queue_length 0$/m);
    expect(text).toMatch(/^reelay_archive_failures_total 0$/m);
    const video = await completedVideo(s);
    await until('archived', async () => (await taskOf(s, video.id)).task?.state === 'archived');
    const res = await fetch(`${s.reelay.url}/admin/jobs/${video.id}`, { headers: { authorization: 'Bearer archive-admin-token-0123456789' } });
    expect(res.status).toBe(200);
    const view = (await res.json()) as Record<string, unknown>;
    expect(view.archive_state).toBe('archived');
    expect(view.archive_bytes).toBe((await taskOf(s, video.id)).task!.bytes);
  });
});

describe('archive retention', () => {
  let s: Setup;
  beforeAll(async () => {
    // 0.00005 days = 4.32 s after completion.
    s = await setup({ ARCHIVE_RETENTION_DAYS: '0.00005' });
  });
  afterAll(async () => teardown(s));

  it('deletes copies past ARCHIVE_RETENTION_DAYS in the background; content then answers 404 as the upstream would', async () => {
    const video = await completedVideo(s);
    await until('archived', async () => (await taskOf(s, video.id)).task?.state === 'archived');
    const { job } = await taskOf(s, video.id);
    await until('retention', async () => (await taskOf(s, video.id)).task?.purgedAt != null, 20_000);
    expect(readdirSync(join(s.dir, 'archive', job.id))).toEqual([]);
    const res = await fetch(`${s.reelay.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${s.secret}` } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-reelay-archive')).toBeNull();
  });
});

describe('ARCHIVE_URL=off', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup({ ARCHIVE_URL: 'off' });
  });
  afterAll(async () => teardown(s));

  it('writes no task, keeps the upstream expiry and relays the upstream (404 once it deleted its copy)', async () => {
    const video = await completedVideo(s);
    expect((await taskOf(s, video.id)).task).toBeUndefined();
    expect(s.reelay.archiveWorker).toBeNull();
    const fresh = await s.client.videos.downloadContent(video.id);
    expect(fresh.headers.get('x-reelay-archive')).toBeNull();
    expect(Buffer.from(await fresh.arrayBuffer()).equals(asset('sample.mp4'))).toBe(true);
    const retrieved = await s.client.videos.retrieve(video.id);
    expect(retrieved.expires_at! - retrieved.completed_at!).toBeLessThanOrEqual(3);
    await new Promise((r) => setTimeout(r, RETENTION_MS + 200));
    const res = await fetch(`${s.reelay.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${s.secret}` } });
    expect(res.status).toBe(404);
    expect(readdirSync(s.dir)).not.toContain('archive');
  });
});
