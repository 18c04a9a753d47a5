/** The simulator driven by the real `openai` SDK over a real socket. */
import { readFileSync } from 'node:fs';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator/index.js';
import { TestClock } from '../helpers/clock.js';

const API_KEY = 'sk-sim-test';
const asset = (f: string) => readFileSync(new URL(`../../src/simulator/assets/${f}`, import.meta.url));
const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

let handle: SimulatorHandle;
let client: OpenAI;

// The simulator runs on a manual clock: a job's status moves only when a test advances time, so
// a slow or loaded machine cannot skip a state or finish a job early.
const JOB_MS = 200;
const QUEUED_MS = 50;
const clock = new TestClock();

/** Lets the job's whole duration pass, then reads its final state. */
async function waitForStatus(id: string): Promise<OpenAI.Videos.Video> {
  clock.advance(JOB_MS);
  const v = await client.videos.retrieve(id);
  if (v.status !== 'completed' && v.status !== 'failed') throw new Error(`video ${id} still ${v.status}`);
  return v;
}

async function completedVideo(params: Partial<OpenAI.Videos.VideoCreateParams> = {}): Promise<OpenAI.Videos.Video> {
  const v = await client.videos.create({ prompt: 'a lighthouse at dusk', ...params });
  return waitForStatus(v.id);
}

beforeAll(async () => {
  handle = await startSimulator({ jobDurationMs: JOB_MS, queuedMs: QUEUED_MS, apiKey: API_KEY, now: clock.now });
  client = new OpenAI({ apiKey: API_KEY, baseURL: handle.url, maxRetries: 0 });
});
afterAll(() => handle.close());

describe('simulator via the openai SDK', () => {
  it('creates a job (multipart), which goes queued -> in_progress -> completed', async () => {
    const created = await client.videos.create({ prompt: 'a cat on a skateboard', seconds: '8', size: '1280x720' });
    expect(created).toMatchObject({
      object: 'video',
      model: 'sora-2',
      status: 'queued',
      progress: 0,
      seconds: '8',
      size: '1280x720',
      quality: 'standard',
      prompt: 'a cat on a skateboard',
      completed_at: null,
      remixed_from_video_id: null,
      error: null,
    });
    expect(created.id).toMatch(/^video_[0-9a-f]+$/);
    const contentType = handle.sim.requests.at(-1)!.headers['content-type'];
    expect(contentType).toMatch(/^multipart\/form-data/); // the SDK always sends multipart

    clock.advance(QUEUED_MS + 50);
    const running = await client.videos.retrieve(created.id);
    expect(running).toMatchObject({ status: 'in_progress', completed_at: null });
    expect(running.progress).toBeGreaterThan(0);
    expect(running.progress).toBeLessThan(100);
    clock.advance(JOB_MS);
    const done = await client.videos.retrieve(created.id);
    expect(done).toMatchObject({ status: 'completed', progress: 100 });
    expect(done!.completed_at).toBeGreaterThanOrEqual(created.created_at);
  });

  it('accepts an image input_reference file and records it', async () => {
    const file = await toFile(PNG_1x1, 'ref.png', { type: 'image/png' });
    const v = await client.videos.create({ prompt: 'animate this', input_reference: file });
    expect(handle.sim.jobs.get(v.id)!.inputReference).toEqual({
      type: 'file',
      filename: 'ref.png',
      contentType: 'image/png',
      bytes: PNG_1x1.length,
    });
  });

  it('accepts input_reference {image_url} (sent as input_reference[image_url])', async () => {
    const v = await client.videos.create({ prompt: 'animate', input_reference: { image_url: 'https://example.com/a.png' } });
    expect(handle.sim.jobs.get(v.id)!.inputReference).toEqual({ type: 'image_url', image_url: 'https://example.com/a.png' });
  });

  it('rejects a non-image input_reference with a 400 envelope', async () => {
    const file = await toFile(Buffer.from('not an image'), 'notes.txt', { type: 'text/plain' });
    const err = await client.videos.create({ prompt: 'x', input_reference: file }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.error).toMatchObject({ type: 'invalid_request_error', param: 'input_reference' });
  });

  it('rejects invalid seconds with param "seconds"', async () => {
    const err = await client.videos.create({ prompt: 'x', seconds: '7' as '4' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('seconds');
  });

  it('also accepts a JSON create', async () => {
    const res = await fetch(`${handle.url}/videos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'json!', model: 'sora-2-pro', input_reference: { file_id: 'file_123' } }),
    });
    expect(res.status).toBe(200);
    const v = (await res.json()) as OpenAI.Videos.Video;
    expect(v).toMatchObject({ model: 'sora-2-pro', status: 'queued', prompt: 'json!' });
    expect(handle.sim.jobs.get(v.id)!.inputReference).toEqual({ type: 'file_id', file_id: 'file_123' });
  });

  it('downloads the real MP4, the webp thumbnail and the jpeg spritesheet', async () => {
    const v = await completedVideo();
    const video = await client.videos.downloadContent(v.id);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await video.arrayBuffer()).equals(asset('sample.mp4'))).toBe(true);

    const thumb = await client.videos.downloadContent(v.id, { variant: 'thumbnail' });
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(Buffer.from(await thumb.arrayBuffer()).equals(asset('thumbnail.webp'))).toBe(true);

    const sprite = await client.videos.downloadContent(v.id, { variant: 'spritesheet' });
    expect(sprite.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await sprite.arrayBuffer()).equals(asset('spritesheet.jpg'))).toBe(true);
  });

  it('answers 404 video_not_ready for content of an unfinished job', async () => {
    const v = await client.videos.create({ prompt: 'slow' });
    const err = await client.videos.downloadContent(v.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('video_not_ready');
  });

  it('lists with cursor pagination (newest first) and the SDK auto-paginates', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.videos.create({ prompt: `list ${i}` })).id);
    const page = await client.videos.list({ limit: 2 });
    expect(page.data.map((v) => v.id)).toEqual([ids[4], ids[3]]);
    expect(page.has_more).toBe(true);
    const next = await page.getNextPage();
    expect(next.data.map((v) => v.id)).toEqual([ids[2], ids[1]]);

    const all: string[] = [];
    for await (const v of client.videos.list({ limit: 2, order: 'asc' })) all.push(v.id);
    expect(all).toEqual([...handle.sim.jobs.values()].sort((a, b) => a.seq - b.seq).map((j) => j.id));
    expect(all.slice(-5)).toEqual(ids);
  });

  it('rejects a bad list limit', async () => {
    const err = await client.videos.list({ limit: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('remixes a completed video with the same model, size and seconds', async () => {
    const src = await completedVideo({ model: 'sora-2-pro', size: '1024x1792', seconds: '12' });
    const remix = await client.videos.remix(src.id, { prompt: 'now in winter' });
    expect(remix).toMatchObject({
      status: 'queued',
      remixed_from_video_id: src.id,
      model: 'sora-2-pro',
      size: '1024x1792',
      seconds: '12',
      prompt: 'now in winter',
    });
    expect((await waitForStatus(remix.id)).status).toBe('completed');
  });

  it('refuses to remix an unfinished or unknown video', async () => {
    const running = await client.videos.create({ prompt: 'still going' });
    const e1 = await client.videos.remix(running.id, { prompt: 'x' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OpenAI.BadRequestError);
    expect((e1 as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('video_not_ready');
    const e2 = await client.videos.remix('video_doesnotexist', { prompt: 'x' }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('edits a video by id and by uploaded file', async () => {
    const src = await completedVideo({ seconds: '8', size: '1280x720' });
    const byId = await client.videos.edit({ prompt: 'make it red', video: { id: src.id } });
    expect(byId).toMatchObject({ status: 'queued', seconds: '8', size: '1280x720', model: 'sora-2', prompt: 'make it red' });
    expect(handle.sim.jobs.get(byId.id)).toMatchObject({ kind: 'edit', sourceVideoId: src.id });
    expect(handle.sim.requests.at(-1)!.headers['content-type']).toMatch(/^multipart\/form-data/);

    const upload = await toFile(asset('sample.mp4'), 'clip.mp4', { type: 'video/mp4' });
    const byFile = await client.videos.edit({ prompt: 'make it blue', video: upload });
    expect(byFile).toMatchObject({ status: 'queued', seconds: '4', size: '720x1280' });
    expect(handle.sim.jobs.get(byFile.id)).toMatchObject({ kind: 'edit', sourceVideoId: null });
  });

  it('extends a video: seconds is the stitched total', async () => {
    const src = await completedVideo({ seconds: '8' });
    const ext = await client.videos.extend({ prompt: 'and then it rains', seconds: '4', video: { id: src.id } });
    expect(ext).toMatchObject({ status: 'queued', seconds: '12', model: src.model, size: src.size });
    expect(handle.sim.jobs.get(ext.id)).toMatchObject({ kind: 'extension', sourceVideoId: src.id });
    const err = await client.videos.extend({ prompt: 'x', seconds: '3' as '4', video: { id: src.id } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('creates and fetches characters', async () => {
    const upload = await toFile(asset('sample.mp4'), 'me.mp4', { type: 'video/mp4' });
    const ch = await client.videos.createCharacter({ name: 'Mochi', video: upload });
    expect(ch).toEqual({ id: expect.stringMatching(/^char_[0-9a-f]+$/), created_at: expect.any(Number), name: 'Mochi' });
    expect(await client.videos.getCharacter(ch.id!)).toEqual(ch);
    await expect(client.videos.getCharacter('char_nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('deletes a video; afterwards it answers 404', async () => {
    const v = await completedVideo();
    expect(await client.videos.delete(v.id)).toEqual({ id: v.id, object: 'video.deleted', deleted: true });
    await expect(client.videos.retrieve(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.videos.downloadContent(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.videos.delete(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('returns 404 in the OpenAI envelope for an unknown id', async () => {
    const err = await client.videos.retrieve('video_unknown').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    const e = err as InstanceType<typeof OpenAI.NotFoundError>;
    expect(e.status).toBe(404);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
  });

  it('carries x-request-id and openai-processing-ms on every response', async () => {
    const { response } = await client.videos.list().withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(Number(response.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(0);
    const err = await client.videos.retrieve('video_unknown').catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).requestID).toMatch(/^req_/);
  });
});
