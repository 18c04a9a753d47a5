import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { startServer, waitFor, type Server } from '../reliability/support.js';

/**
 * The official SDK retries 408/409/429/5xx by itself unless the answer says `x-should-retry:
 * false`. A create whose outcome is unknown (it may have started a job upstream) must never be
 * retried, by the SDK or through a reused Idempotency-Key (issue 16, item 3).
 */
let up: FaultUpstream;
let s: Server;
let key: { id: string; secret: string };

beforeAll(async () => {
  up = await startFaultUpstream();
  s = await startServer({ upstreamUrl: up.url, reconciler: false, env: { UPSTREAM_HEADERS_TIMEOUT_MS: '300', UPSTREAM_BODY_TIMEOUT_MS: '300' } });
  key = await s.newKey('50.00');
});

afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  await s.close();
  await up.close();
});

/** Requests the SDK sent to reelay (its first attempt and every retry). */
let sent = 0;

/** The SDK as users run it: default retries (2), counting each attempt it makes. */
function sdk(headers: Record<string, string> = {}) {
  return new OpenAI({
    apiKey: key.secret,
    baseURL: `${s.base}/v1`,
    defaultHeaders: headers,
    timeout: 10_000,
    fetch: (url, init) => {
      // (The SDK also fetches a `data:` URL once to probe the runtime: not a request to reelay.)
      if (String(url).startsWith(s.base)) sent++;
      return fetch(url, init);
    },
  });
}

describe('unknown outcomes are never retried', () => {
  it.each([
    ['the upstream answers nothing in time (504)', { kind: 'hang' } as const, 504],
    ['the connection is reset after the create was sent (502)', { kind: 'reset-after-body' } as const, 502],
    ['the upstream answers a body that is not a video (502)', { kind: 'malformed-json' } as const, 502],
    ['a gateway in front of the provider answers 504', { kind: 'status', status: 504 } as const, 504],
    ['a gateway in front of the provider answers 502', { kind: 'status', status: 502 } as const, 502],
  ])('%s: one SDK call makes exactly one upstream create and reports the error', async (_name, behaviour, status) => {
    up.script({ method: 'POST', path: '/v1/videos', behaviour });
    const before = up.creates().length;
    sent = 0;
    try {
      const err = await sdk()
        .videos.create({ model: 'sora-2', prompt: 'unknown outcome', seconds: '4' })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
      expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
      expect(up.creates().length - before).toBe(1);
      expect(sent).toBe(1);
    } finally {
      up.reset();
    }
    expect(await s.reelay.deps.store.getKey(key.id)).toMatchObject({ heldMicros: 0 });
    expect(await s.violations()).toEqual([]);
  });

  it('an Idempotency-Key stays claimed after an unknown outcome: the retry replays the answer, no second job', async () => {
    up.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'hang' } });
    const before = up.creates().length;
    const body = JSON.stringify({ model: 'sora-2', prompt: 'idem unknown', seconds: '4' });
    const send = () =>
      s.call('/v1/videos', { method: 'POST', key: key.secret, headers: { 'content-type': 'application/json', 'idempotency-key': 'idem-unknown-1' }, body });
    const first = await send();
    expect(first.status).toBe(504);
    up.reset();
    const again = await send();
    expect(again.status).toBe(504);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-should-retry')).toBe('false');
    expect(again.json()).toMatchObject({ error: { code: 'upstream_timeout' } });
    expect(up.creates().length - before).toBe(1);
  });

  it('a request arriving while the first with its Idempotency-Key is in flight gets 409 idempotency_key_in_use with retry-after, then the replay', async () => {
    up.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'delay', ms: 400 } });
    const before = up.creates().length;
    const body = JSON.stringify({ model: 'sora-2', prompt: 'idem in flight', seconds: '4' });
    const send = () =>
      s.call('/v1/videos', { method: 'POST', key: key.secret, headers: { 'content-type': 'application/json', 'idempotency-key': 'idem-inflight-1' }, body });
    const first = send();
    expect(await waitFor(() => up.creates().length > before)).toBe(true);
    const second = await send();
    expect(second.status).toBe(409);
    expect(second.json()).toMatchObject({ error: { code: 'idempotency_key_in_use' } });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(second.headers.get('x-should-retry')).toBeNull();
    const firstRes = await first;
    expect(firstRes.status).toBe(200);
    const replay = await send();
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json().id).toBe(firstRes.json().id);
    expect(up.creates().length - before).toBe(1);
  });

  it('a different body under a used Idempotency-Key is 409 idempotency_key_reused that the SDK does not retry', async () => {
    const client = sdk({ 'Idempotency-Key': 'idem-reused-1' });
    const ok = await client.videos.create({ model: 'sora-2', prompt: 'first', seconds: '4' });
    expect(ok.id).toMatch(/^video_/);
    sent = 0;
    const err = await client.videos.create({ model: 'sora-2', prompt: 'second, different', seconds: '4' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.ConflictError);
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('idempotency_key_reused');
    expect(sent).toBe(1);
  });

  it('a connection refused before sending is retryable: 503 with retry-after, no x-should-retry false', async () => {
    await up.refuseConnections();
    try {
      const res = await s.call('/v1/videos', {
        method: 'POST',
        key: key.secret,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sora-2', prompt: 'refused', seconds: '4' }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).not.toBeNull();
      expect(res.headers.get('x-should-retry')).toBeNull();
    } finally {
      await up.acceptConnections();
    }
  });
});
