import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TestClock } from '../helpers/clock.js';

/** The official openai SDK against a real reelay server (real sockets, SQLite file) and the simulator. */
let sim: SimulatorHandle;
let reelay: RunningReelay;
let client: OpenAI;
let keyId: string;
const seen: Response[] = [];
// The simulator's jobs move on only when a test advances this clock, however loaded the machine.
const JOB_MS = 300;
const simClock = new TestClock(Date.now());

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: JOB_MS, apiKey: 'sk-upstream-e2e', now: simClock.now });
  const dir = mkdtempSync(join(tmpdir(), 'reelay-e2e-'));
  reelay = await startReelay(
    loadConfig({
      PORT: '0',
      DATABASE_URL: join(dir, 'e2e.db'),
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_API_KEY: 'sk-upstream-e2e',
      ADMIN_TOKEN: 'e2e-admin-token-0123456789',
      RECONCILER_INTERVAL_MS: '200',
      RECONCILER_MIN_POLL_MS: '100',
    }),
    { logger: silentLogger() },
  );
  const { key, secret } = await createKey(reelay.deps.store, { name: 'e2e' }, Date.now());
  keyId = key.id;
  await reelay.deps.store.appendCredit(key.id, 50_000_000, 'e2e', { actor: 'test', requestId: null, now: Date.now() });
  client = new OpenAI({
    apiKey: secret,
    baseURL: `${reelay.url}/v1`,
    maxRetries: 0,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if (String(url).startsWith(reelay.url)) seen.push(res);
      return res;
    },
  });
});

afterAll(async () => {
  await reelay.close(1000);
  await sim.close();
});

/** Polls the job while it runs, lets its whole duration pass, then polls its final state. */
async function untilDone(id: string) {
  simClock.advance(JOB_MS / 2);
  expect((await client.videos.retrieve(id)).status).toBe('in_progress');
  simClock.advance(JOB_MS);
  const v = await client.videos.retrieve(id);
  if (v.status !== 'completed' && v.status !== 'failed') throw new Error(`video ${id} still ${v.status}`);
  return v;
}

describe('the openai SDK through reelay', () => {
  it('creates a video (multipart, as the SDK sends it), polls it to completion and downloads identical bytes', async () => {
    const video = await client.videos.create({ prompt: 'a lighthouse at dusk', model: 'sora-2', seconds: '8', size: '1280x720' });
    expect(video).toMatchObject({ object: 'video', status: 'queued', model: 'sora-2', seconds: '8' });
    const done = await untilDone(video.id);
    expect(done.status).toBe('completed');
    const content = await client.videos.downloadContent(video.id);
    const bytes = Buffer.from(await content.arrayBuffer());
    expect(bytes.equals(readFileSync(new URL('../../src/simulator/assets/sample.mp4', import.meta.url)))).toBe(true);
    expect(content.headers.get('content-type')).toBe('video/mp4');
    expect(content.headers.get('cache-control')).not.toMatch(/public/);
    const thumb = await client.videos.downloadContent(video.id, { variant: 'thumbnail' });
    expect(Buffer.from(await thumb.arrayBuffer()).equals(readFileSync(new URL('../../src/simulator/assets/thumbnail.webp', import.meta.url)))).toBe(true);
    const job = (await reelay.deps.store.getJobByVideoId(video.id))!;
    expect(job).toMatchObject({ status: 'completed', chargedMicros: 800_000, keyId });
  });

  it('creates with an image input_reference file part', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const video = await client.videos.create({ prompt: 'animate this', input_reference: await toFile(png, 'ref.png', { type: 'image/png' }) });
    expect(video.status).toBe('queued');
    const upstreamCreate = sim.sim.jobs.get(video.id)!;
    expect(upstreamCreate.inputReference).toBeTruthy();
  });

  it('passes Range requests through with 206 and content-range', async () => {
    const video = await client.videos.create({ prompt: 'range' });
    await untilDone(video.id);
    const res = await fetch(`${reelay.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${client.apiKey}`, range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toMatch(/^bytes 0-99\//);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect((await res.arrayBuffer()).byteLength).toBe(100);
  });

  it('lists only its own videos with cursor pagination', async () => {
    for (let i = 0; i < 3; i++) await client.videos.create({ prompt: `list ${i}` });
    const firstPage = await client.videos.list({ limit: 2 });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.hasNextPage()).toBe(true);
    const all: string[] = [];
    for await (const v of client.videos.list({ limit: 2 })) all.push(v.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(reelay.deps.database.sqlite.prepare('select count(*) as n from jobs where key_id = ? and video_id is not null').get(keyId) && (reelay.deps.database.sqlite.prepare('select count(*) as n from jobs where key_id = ? and video_id is not null').get(keyId) as { n: number }).n);
    const asc = await client.videos.list({ limit: 100, order: 'asc' });
    expect(asc.data.map((v) => v.id)).toEqual([...all].reverse());
  });

  it('remixes and deletes; a deleted video answers 404 but stays in the ledger', async () => {
    const video = await client.videos.create({ prompt: 'source' });
    await untilDone(video.id);
    const remix = await client.videos.remix(video.id, { prompt: 'now in winter' });
    expect(remix.remixed_from_video_id).toBe(video.id);
    const deleted = await client.videos.delete(video.id);
    expect(deleted).toMatchObject({ id: video.id, deleted: true });
    await expect(client.videos.retrieve(video.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const listed = await client.videos.list({ limit: 100 });
    expect(listed.data.map((v) => v.id)).not.toContain(video.id);
    expect(await reelay.deps.store.getJobByVideoId(video.id)).toMatchObject({ status: 'completed', chargedMicros: 400_000 });
  });

  it('surfaces reelay errors as the SDK error classes', async () => {
    await expect(client.videos.create({ prompt: 'x', model: 'sora-2', seconds: '5' as '4' })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.videos.retrieve('video_not_mine')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const bad = new OpenAI({ apiKey: 'sk-reelay-wrong', baseURL: `${reelay.url}/v1`, maxRetries: 0 });
    await expect(bad.videos.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    try {
      await client.videos.create({ prompt: 'x', model: 'not-a-model' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('model_not_priced');
    }
  });

  it("reads the client's request headers over a real socket: its request id, its client id, its key and its body size", async () => {
    // These headers are read from Node's parsed request (not a fetch Headers), so check them on a real server.
    const reused = `client-${Date.now()}`;
    const models = await fetch(`${reelay.url}/v1/models`, { headers: { authorization: `Bearer ${client.apiKey}`, 'x-request-id': reused } });
    expect(models.status).toBe(200);
    expect(models.headers.get('x-request-id')).toBe(reused);
    const body = JSON.stringify({ prompt: 'header check', model: 'no-such-model' });
    const create = await fetch(`${reelay.url}/v1/videos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json', 'x-client-request-id': `${reused}-c` },
      body,
    });
    expect(create.status).toBe(400);
    const denied = await fetch(`${reelay.url}/v1/models`, { headers: { authorization: 'Bearer sk-reelay-not-a-key' } });
    expect(denied.status).toBe(401);
    await reelay.deps.requestLog.flush();
    expect(await reelay.deps.store.searchRequestLog({ requestId: reused, limit: 2 })).toMatchObject([{ requestId: reused, keyId, status: 200 }]);
    const row = await reelay.deps.store.searchRequestLog({ requestId: `${reused}-c`, limit: 2 });
    expect(row).toMatchObject([{ clientRequestId: `${reused}-c`, requestId: create.headers.get('x-request-id'), keyId, bytesIn: Buffer.byteLength(body) }]);
  });

  it('puts x-request-id on every response and logs a row for each', async () => {
    expect(seen.length).toBeGreaterThan(10);
    await reelay.deps.requestLog.flush();
    for (const res of seen) {
      const id = res.headers.get('x-request-id');
      if (!id) throw new Error(`no x-request-id on ${res.status} ${res.url} ${JSON.stringify([...res.headers])}`);
      expect(id).toMatch(/^req_/);
      expect(await reelay.deps.store.searchRequestLog({ requestId: id!, limit: 2 })).toHaveLength(1);
    }
  });
});
