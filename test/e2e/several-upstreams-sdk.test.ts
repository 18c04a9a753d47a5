import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { startServer, type Server } from '../reliability/support.js';

/**
 * The real server with two upstreams in UPSTREAMS_FILE, driven by the official SDK with its
 * default retries: failover happens only where no upstream job can exist, so one SDK call never
 * makes two upstream jobs, whatever goes wrong; and neither credential leaks anywhere.
 */
const KEY_A = 'sk-acct-a-e2e-secret-7777';
const KEY_B = 'sk-acct-b-e2e-secret-8888';

let a: FaultUpstream;
let b: FaultUpstream;
let s: Server;
let dir: string;
let key: { id: string; secret: string };
let sent = 0;

beforeAll(async () => {
  a = await startFaultUpstream({ apiKey: KEY_A });
  b = await startFaultUpstream({ apiKey: KEY_B });
  dir = mkdtempSync(join(tmpdir(), 'reelay-e2e-upstreams-'));
  const file = join(dir, 'upstreams.json');
  writeFileSync(
    file,
    JSON.stringify({
      upstreams: [
        { id: 'acct-a', base_url: a.url, api_key_env: 'ACCT_A_KEY' },
        { id: 'acct-b', base_url: b.url, api_key_env: 'ACCT_B_KEY', priority: 1 },
      ],
    }),
  );
  s = await startServer({
    upstreamUrl: 'http://127.0.0.1:9/v1',
    reconciler: false,
    env: { UPSTREAMS_FILE: file, ACCT_A_KEY: KEY_A, ACCT_B_KEY: KEY_B, UPSTREAM_HEADERS_TIMEOUT_MS: '300', UPSTREAM_BODY_TIMEOUT_MS: '300' },
  });
  s.capture.secrets.push(KEY_A, KEY_B);
  key = await s.newKey('50.00');
});

afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  await s.close();
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  a.reset();
  b.reset();
  sent = 0;
});

function sdk() {
  return new OpenAI({
    apiKey: key.secret,
    baseURL: `${s.base}/v1`,
    timeout: 10_000,
    fetch: (url, init) => {
      if (String(url).startsWith(s.base)) sent++;
      return fetch(url, init);
    },
  });
}

const total = () => a.creates().length + b.creates().length;

describe('the official SDK through reelay with two upstreams', () => {
  it('a timeout after sending: exactly one upstream create in total, no failover, no SDK retry', async () => {
    a.script({ method: 'POST', path: '/v1/videos', behaviour: { kind: 'hang' } });
    const before = total();
    const err = await sdk()
      .videos.create({ model: 'sora-2', prompt: 'timeout', seconds: '4' })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect(total() - before).toBe(1);
    expect(b.creates()).toHaveLength(0);
    expect(sent).toBe(1);
    expect(await s.reelay.deps.store.getKey(key.id)).toMatchObject({ heldMicros: 0 });
    expect(await s.violations()).toEqual([]);
  });

  it('a 503 from the first upstream: the SDK call succeeds at the second, one job upstream', async () => {
    a.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 503 } });
    const aJobs = a.jobs.size;
    const bJobs = b.jobs.size;
    const video = await sdk().videos.create({ model: 'sora-2', prompt: 'failover', seconds: '4' });
    expect(b.jobs.has(video.id)).toBe(true);
    expect(a.jobs.size).toBe(aJobs);
    expect(b.jobs.size).toBe(bJobs + 1);
    expect(sent).toBe(1);
    // Its poll goes to b, with b's credential.
    const polled = await sdk().videos.retrieve(video.id);
    expect(polled.id).toBe(video.id);
    const poll = b.requests.filter((q) => q.method === 'GET' && q.path === `/v1/videos/${video.id}`);
    expect(poll.map((q) => q.headers.authorization)).toEqual([`Bearer ${KEY_B}`]);
    expect(a.requests.some((q) => q.path.includes(video.id))).toBe(false);
  });
});
