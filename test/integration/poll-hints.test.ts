/**
 * `openai-poll-after-ms` on live answers to GET /v1/videos/{id} for unfinished jobs (contract §13):
 * reelay's own poll interval for the job (a tenth of its age, from the minimum to the maximum poll
 * interval). Finished jobs, answered from the stored final object, carry no hint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { buildHarness, TestClock, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';
import { loadConfig } from '../../src/config.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey } from '../../src/keys/service.js';

let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let h: Harness;
const clock = new TestClock();
/** What the upstream says about each video on a GET. */
const upstreamStatus = new Map<string, { status: number; body: Record<string, unknown> }>();

beforeAll(async () => {
  upstream = await startRecordingUpstream((req, res) => {
    if (req.method === 'POST') {
      const id = `video_hint_${upstream.requests.length}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: 'video', model: 'sora-2', status: 'queued', progress: 0, seconds: '4', size: '720x1280' }));
      return;
    }
    const answer = upstreamStatus.get(req.url.split('/').pop()!) ?? { status: 404, body: { error: { message: 'no', type: 'invalid_request_error', param: null, code: null } } };
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  });
  h = buildHarness({ upstreamUrl: upstream.url, now: clock.now, pollTiming: { minPollMs: 2000, maxPollMs: 60_000 } });
});
afterAll(async () => {
  h.close();
  await upstream.close();
});

async function createVideo(secret: string): Promise<string> {
  const res = await h.createJson(secret, { prompt: 'p', model: 'sora-2', seconds: '4' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

const video = (id: string, status: string, extra: Record<string, unknown> = {}) => ({ id, object: 'video', model: 'sora-2', status, progress: 10, seconds: '4', size: '720x1280', ...extra });

describe('polling hints', () => {
  it('a live answer for an unfinished job suggests reelay\'s poll interval, growing with the job\'s age', async () => {
    const key = await h.newKey('10.00');
    const id = await createVideo(key.secret);
    const hint = async () => {
      const res = await h.call(`/v1/videos/${id}`, { key: key.secret });
      expect(res.status).toBe(200);
      return res.headers.get('openai-poll-after-ms');
    };

    upstreamStatus.set(id, { status: 200, body: video(id, 'queued') });
    expect(await hint()).toBe('2000'); // a young job: the minimum interval
    upstreamStatus.set(id, { status: 200, body: video(id, 'in_progress') });
    clock.advance(300_000);
    expect(await hint()).toBe('30000'); // five minutes old: a tenth of its age
    clock.advance(3600_000);
    expect(await hint()).toBe('60000'); // never more than the maximum interval
  });

  it('no hint on finished jobs, whether seen live or served from the stored final object, nor on upstream errors', async () => {
    const key = await h.newKey('10.00');
    const done = await createVideo(key.secret);
    upstreamStatus.set(done, { status: 200, body: video(done, 'completed', { progress: 100, completed_at: Math.floor(clock.now() / 1000) }) });
    const live = await h.call(`/v1/videos/${done}`, { key: key.secret });
    expect(live.status).toBe(200);
    expect(live.headers.get('x-reelay-cache')).toBeNull();
    expect(live.headers.get('openai-poll-after-ms')).toBeNull();
    const stored = await h.call(`/v1/videos/${done}`, { key: key.secret });
    expect(stored.headers.get('x-reelay-cache')).toBe('final');
    expect(stored.headers.get('openai-poll-after-ms')).toBeNull();

    const failing = await createVideo(key.secret);
    upstreamStatus.set(failing, { status: 500, body: { error: { message: 'boom', type: 'server_error', param: null, code: null } } });
    const error = await h.call(`/v1/videos/${failing}`, { key: key.secret });
    expect(error.status).toBe(500);
    expect(error.headers.get('openai-poll-after-ms')).toBeNull();
  });
});

describe('polling hints through the OpenAI SDK', () => {
  let reelay: RunningReelay;
  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', UPSTREAM_BASE_URL: upstream.url, UPSTREAM_API_KEY: 'sk-up' });
    reelay = await startReelay(config, { now: clock.now, logger: silentLogger(), reconciler: false });
  });
  afterAll(() => reelay.close(1000));

  it('the SDK sees openai-poll-after-ms on a retrieve of a running video', async () => {
    const { key, secret } = await createKey(reelay.deps.store, { name: 'sdk' }, clock.now());
    await reelay.deps.store.appendCredit(key.id, 10_000_000, 'test credit', { actor: 'test', requestId: null, now: clock.now() });
    const client = new OpenAI({ baseURL: `${reelay.url}/v1`, apiKey: secret, maxRetries: 0 });
    const created = await client.videos.create({ prompt: 'a lighthouse', model: 'sora-2', seconds: '4' });
    upstreamStatus.set(created.id, { status: 200, body: video(created.id, 'in_progress') });
    const { data, response } = await client.videos.retrieve(created.id).withResponse();
    expect(data.status).toBe('in_progress');
    expect(response.headers.get('openai-poll-after-ms')).toBe('2000');
  });
});
