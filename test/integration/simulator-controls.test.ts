/** Failure injection, latency, auth and the /_sim HTTP controls. */
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../src/simulator/index.js';
import { TestClock } from '../helpers/clock.js';

type APIErr = InstanceType<typeof OpenAI.APIError>;
const API_KEY = 'sk-controls';

let handle: SimulatorHandle;
let client: OpenAI;
// A manual clock: jobs move on only when a test advances it, however loaded the machine is.
const JOB_MS = 150;
let clock: TestClock;

beforeEach(async () => {
  clock = new TestClock();
  handle = await startSimulator({ jobDurationMs: JOB_MS, queuedMs: 30, apiKey: API_KEY, now: clock.now });
  client = new OpenAI({ apiKey: API_KEY, baseURL: handle.url, maxRetries: 0 });
});
afterEach(() => handle.close());

const fail = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error('expected failure')), (e: unknown) => e as APIErr);

/** Lets the job's whole duration pass, then reads its final state. */
async function waitForTerminal(id: string): Promise<OpenAI.Videos.Video> {
  clock.advance(JOB_MS);
  const v = await client.videos.retrieve(id);
  if (v.status !== 'completed' && v.status !== 'failed') throw new Error(`job ${id} never finished: ${v.status}`);
  return v;
}

async function control(path: string, body?: unknown): Promise<Response> {
  const base = handle.url.replace(/\/v1$/, '');
  return fetch(`${base}/_sim/${path}`, body === undefined ? {} : {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('create failures', () => {
  it('failNextCreate(content_policy) -> 400 moderation_blocked, and no job is made', async () => {
    handle.sim.failNextCreate('content_policy');
    const e = await fail(client.videos.create({ prompt: 'anything' }));
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.error).toMatchObject({ code: 'moderation_blocked', type: 'invalid_request_error' });
    expect(handle.sim.jobs.size).toBe(0);
    // only the next one
    expect((await client.videos.create({ prompt: 'anything' })).status).toBe('queued');
  });

  it('failNextCreate(rate_limit) -> 429 with retry-after: 1', async () => {
    handle.sim.failNextCreate('rate_limit');
    const e = await fail(client.videos.create({ prompt: 'x' }));
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e.headers?.get('retry-after')).toBe('1');
    expect(e.code).toBe('rate_limit_exceeded');
  });

  it('failNextCreate(server_error, 2) -> two 500s, then success', async () => {
    handle.sim.failNextCreate('server_error', 2);
    expect(await fail(client.videos.create({ prompt: 'x' }))).toBeInstanceOf(OpenAI.InternalServerError);
    expect(await fail(client.videos.create({ prompt: 'x' }))).toBeInstanceOf(OpenAI.InternalServerError);
    expect((await client.videos.create({ prompt: 'x' })).status).toBe('queued');
  });

  it('the SDK retries a 429 by itself and then succeeds (two creates reach the upstream)', async () => {
    const retrying = new OpenAI({ apiKey: API_KEY, baseURL: handle.url, maxRetries: 1 });
    handle.sim.failNextCreate('rate_limit');
    const before = handle.sim.requestCount;
    const v = await retrying.videos.create({ prompt: 'x' });
    expect(v.status).toBe('queued');
    expect(handle.sim.requestCount - before).toBe(2);
  });

  it('failures also apply to remix', async () => {
    const src = await waitForTerminal((await client.videos.create({ prompt: 'src' })).id);
    handle.sim.failNextCreate('content_policy');
    const e = await fail(client.videos.remix(src.id, { prompt: 'again' }));
    expect(e.code).toBe('moderation_blocked');
  });

  it('a prompt with [reject] is refused with 400 moderation_blocked', async () => {
    const e = await fail(client.videos.create({ prompt: 'please [reject] me' }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('moderation_blocked');
  });

  it('a prompt with [fail] makes a job that ends failed with generation_failed', async () => {
    const v = await client.videos.create({ prompt: 'this will [fail]' });
    const end = await waitForTerminal(v.id);
    expect(end.status).toBe('failed');
    expect(end.error).toEqual({ code: 'generation_failed', message: expect.any(String) });
    expect(await fail(client.videos.downloadContent(v.id))).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('job controls', () => {
  it('failJob makes a running job fail with the given code', async () => {
    const v = await client.videos.create({ prompt: 'x' });
    handle.sim.failJob(v.id, 'internal_error');
    const now = await client.videos.retrieve(v.id);
    expect(now.status).toBe('failed');
    expect(now.error?.code).toBe('internal_error');
  });

  it('forget makes later GETs answer 404', async () => {
    const v = await client.videos.create({ prompt: 'x' });
    handle.sim.forget(v.id);
    expect(await fail(client.videos.retrieve(v.id))).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('setLatencyMs delays every /v1 response', async () => {
    handle.sim.setLatencyMs(800);
    const t0 = performance.now();
    await client.videos.list();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(790);
    // Back to no delay: well under the 800 ms, even on a loaded machine.
    handle.sim.setLatencyMs(0);
    const t1 = performance.now();
    await client.videos.list();
    expect(performance.now() - t1).toBeLessThan(500);
  });

  it('counts and logs every /v1 request with method, path, query and headers', async () => {
    const v = await client.videos.create({ prompt: 'x' });
    await client.videos.retrieve(v.id);
    await client.videos.list({ limit: 3 });
    expect(handle.sim.requestCount).toBe(3);
    expect(handle.sim.requests.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/v1/videos'],
      ['GET', `/v1/videos/${v.id}`],
      ['GET', '/v1/videos'],
    ]);
    expect(handle.sim.requests[2]!.query).toBe('limit=3');
    expect(handle.sim.requests[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });
});

describe('api key', () => {
  it('rejects a wrong or missing key with 401 invalid_api_key', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: handle.url, maxRetries: 0 });
    const e = await fail(wrong.videos.list());
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    const res = await fetch(`${handle.url}/videos`);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect(handle.sim.requestCount).toBe(2); // rejected requests are still counted
  });

  it('needs no key when none is configured', async () => {
    const open = await startSimulator({ jobDurationMs: 100 });
    try {
      const res = await fetch(`${open.url}/videos`);
      expect(res.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('/_sim HTTP controls (no auth)', () => {
  it('fail-next-create', async () => {
    const r = await control('fail-next-create', { kind: 'rate_limit', count: 2 });
    expect(r.status).toBe(200);
    expect(await fail(client.videos.create({ prompt: 'x' }))).toBeInstanceOf(OpenAI.RateLimitError);
    expect(await fail(client.videos.create({ prompt: 'x' }))).toBeInstanceOf(OpenAI.RateLimitError);
    expect((await client.videos.create({ prompt: 'x' })).status).toBe('queued');
    expect((await control('fail-next-create', { kind: 'nope' })).status).toBe(400);
  });

  it('fail-job', async () => {
    const v = await client.videos.create({ prompt: 'x' });
    const r = await control('fail-job', { id: v.id, code: 'boom' });
    expect(r.status).toBe(200);
    expect((await client.videos.retrieve(v.id)).error?.code).toBe('boom');
    expect((await control('fail-job', { id: 'video_nope' })).status).toBe(404);
    expect((await control('fail-job', { id: v.id })).status).toBe(409); // already finished
  });

  it('latency', async () => {
    expect((await control('latency', { ms: 123 })).status).toBe(200);
    expect(handle.sim.latencyMs).toBe(123);
    expect((await control('latency', { ms: -5 })).status).toBe(400);
  });

  it('forget', async () => {
    const v = await client.videos.create({ prompt: 'x' });
    expect((await control('forget', { id: v.id })).status).toBe(200);
    expect(await fail(client.videos.retrieve(v.id))).toBeInstanceOf(OpenAI.NotFoundError);
    expect((await control('forget', { id: v.id })).status).toBe(404);
  });

  it('stats', async () => {
    await client.videos.create({ prompt: 'x' });
    await client.videos.list();
    const r = await control('stats');
    expect(r.headers.get('x-request-id')).toMatch(/^req_/);
    const stats = (await r.json()) as { byStatus: Record<string, number> };
    expect(stats).toEqual({
      requestCount: 2,
      jobs: 1,
      byStatus: { queued: expect.any(Number), in_progress: expect.any(Number), completed: expect.any(Number), failed: 0 },
      characters: 0,
      latencyMs: 0,
      pendingCreateFailures: 0,
    });
    expect(Object.values(stats.byStatus).reduce((a, b) => a + b, 0)).toBe(1);
    expect(handle.sim.requestCount).toBe(2); // /_sim calls are not counted
  });
});
