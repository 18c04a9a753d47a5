import { afterAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { startSimulator, syntheticBytes, type SimulatorHandle } from '../../src/simulator/index.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { silentLogger } from '../../src/logging/logger.js';
import { DirectoryStore } from '../../src/archive/dir-store.js';
import { startS3 } from '../helpers/s3.js';
import { until } from '../helpers/until.js';

/** A directory store that writes slowly (about 8 MB/s), so a copy can be interrupted midway. */
class SlowDirectoryStore extends DirectoryStore {
  override put(key: string, body: Readable, meta: { contentType: string; length: number | null }, signal?: AbortSignal) {
    const slow = new Transform({
      highWaterMark: 64 * 1024,
      transform(chunk: Buffer, _e, cb) {
        setTimeout(() => cb(null, chunk), 8);
      },
    });
    body.once('error', (err) => slow.destroy(err));
    return super.put(key, body.pipe(slow), meta, signal);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

function configFor(sim: SimulatorHandle, dbPath: string, env: Record<string, string>) {
  return loadConfig({
    PORT: '0',
    DATABASE_URL: dbPath,
    UPSTREAM_BASE_URL: sim.url,
    UPSTREAM_API_KEY: 'sk-up',
    RECONCILER_INTERVAL_MS: '100',
    RECONCILER_MIN_POLL_MS: '100',
    INSTANCE_ID: 'archiver',
    ...env,
  });
}

const timing = { intervalMs: 50, retryBaseMs: 100, purgeIntervalMs: 60_000 };

async function completedVideo(reelay: RunningReelay) {
  const { key, secret } = await createKey(reelay.deps.store, { name: 'k' }, Date.now());
  await reelay.deps.store.appendCredit(key.id, 50_000_000, 'test', { actor: 'test', requestId: null, now: Date.now() });
  const client = new OpenAI({ apiKey: secret, baseURL: `${reelay.url}/v1`, maxRetries: 0 });
  const v = await client.videos.create({ prompt: 'a long take', model: 'sora-2', seconds: '4', size: '720x1280' });
  await until('completion', async () => (await client.videos.retrieve(v.id)).status === 'completed', 20_000);
  return { id: v.id, secret, job: (await reelay.deps.store.getJobByVideoId(v.id))! };
}

describe('archive restart', () => {
  it('a restart in the middle of archiving a large video resumes it: the copy completes, bytes identical, no partial file left', async () => {
    const SIZE = 48 * 1024 * 1024;
    const sim = await startSimulator({ jobDurationMs: 200, apiKey: 'sk-up', contentBytes: SIZE });
    cleanups.push(() => sim.close());
    const dir = mkdtempSync(join(tmpdir(), 'reelay-restart-'));
    const env = { ARCHIVE_URL: `file:${join(dir, 'archive')}`, INSTANCE_TIMEOUT_MS: '2000' };
    const first = await startReelay(configFor(sim, join(dir, 'r.db'), env), {
      logger: silentLogger(),
      archiveTiming: timing,
      archiveObjects: new SlowDirectoryStore(join(dir, 'archive')),
    });
    const { id, secret, job } = await completedVideo(first);
    // Wait until the copy is under way (a temporary file exists), then stop the process.
    await until('copy under way', async () => {
      try {
        return readdirSync(join(dir, 'archive', job.id)).some((n) => n.endsWith('.part'));
      } catch {
        return false;
      }
    }, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await first.close(500);
    expect((await (await import('../../src/db/open.js')).openStore(configFor(sim, join(dir, 'r.db'), env)).then(async (o) => {
      const t = await o.store.getArchiveTask(job.id);
      await o.close();
      return t;
    }))).toMatchObject({ state: 'pending', variants: '{}' });
    expect(readdirSync(join(dir, 'archive', job.id))).toEqual([]);

    const second = await startReelay(configFor(sim, join(dir, 'r.db'), env), { logger: silentLogger(), archiveTiming: timing });
    cleanups.push(() => second.close(500));
    await until('archived after restart', async () => (await second.deps.store.getArchiveTask(job.id))?.state === 'archived', 30_000);
    expect(readdirSync(join(dir, 'archive', job.id)).sort()).toEqual(['spritesheet', 'thumbnail', 'video']);
    const res = await fetch(`${second.url}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${secret}` } });
    expect(res.headers.get('x-reelay-archive')).toBe('hit');
    const got = Buffer.from(await res.arrayBuffer());
    expect(got.length).toBe(SIZE);
    expect(got.equals(syntheticBytes(0, SIZE))).toBe(true);
  }, 60_000);
});

describe('archive on S3 (s3rver)', () => {
  it('archives to the bucket and serves the copy (whole and by range) after the upstream deleted its own', async () => {
    const s3 = await startS3('reelay-archive');
    cleanups.push(() => s3.close());
    const sim = await startSimulator({ jobDurationMs: 200, apiKey: 'sk-up', contentRetentionMs: 2500 });
    cleanups.push(() => sim.close());
    const dir = mkdtempSync(join(tmpdir(), 'reelay-s3e2e-'));
    const reelay = await startReelay(
      configFor(sim, join(dir, 'r.db'), {
        ARCHIVE_URL: 's3://reelay-archive/prod/videos',
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: '1',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
      }),
      { logger: silentLogger(), archiveTiming: timing },
    );
    cleanups.push(() => reelay.close(500));
    const { id, secret, job } = await completedVideo(reelay);
    await until('archived', async () => (await reelay.deps.store.getArchiveTask(job.id))?.state === 'archived', 20_000);
    await new Promise((r) => setTimeout(r, 2700));
    const upstream = await fetch(`${sim.url}/videos/${id}/content`, { headers: { authorization: 'Bearer sk-up' } });
    expect(upstream.status).toBe(404);
    const client = new OpenAI({ apiKey: secret, baseURL: `${reelay.url}/v1`, maxRetries: 0 });
    const content = await client.videos.downloadContent(id);
    expect(content.headers.get('x-reelay-archive')).toBe('hit');
    const mp4 = readFileSync(new URL('../../src/simulator/assets/sample.mp4', import.meta.url));
    expect(Buffer.from(await content.arrayBuffer()).equals(mp4)).toBe(true);
    const suffix = await fetch(`${reelay.url}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${secret}`, range: 'bytes=-100' } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe(`bytes ${mp4.length - 100}-${mp4.length - 1}/${mp4.length}`);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(mp4.subarray(mp4.length - 100))).toBe(true);
    // DELETE removes the objects from the bucket.
    await client.videos.delete(id).catch(() => {});
    expect((await reelay.deps.store.getArchiveTask(job.id))!.purgedAt).not.toBeNull();
    expect(await reelay.deps.archive!.objects.get(`${job.id}/video`)).toBeUndefined();
  }, 60_000);
});
