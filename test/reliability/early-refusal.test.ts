import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import OpenAI, { APIError, AuthenticationError, RateLimitError, toFile } from 'openai';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { ADMIN_TOKEN, envelope, startServer, type Server } from './support.js';
import { head, upload, type UploadResult } from './upload-client.js';

/**
 * Answers that reelay sends before it has read the request body — a content-length over the limit
 * (413), a missing or revoked key (401), a key without balance or at its limits (429), a malformed
 * request (400) — reach the client whole, over real sockets: the connection closes only after the
 * rest of the body was read and dropped (a lingering close, bounded in time and bytes), so the
 * client never gets a reset instead of the answer, and the SDKs do not retry the upload.
 */
const MULTIPART_LIMIT = 2 * 1024 * 1024;
const MB = 1_000_000;

let up: FaultUpstream;
let s: Server;
let funded: { id: string; secret: string };
let broke: { id: string; secret: string };
let revoked: { id: string; secret: string };

beforeAll(async () => {
  up = await startFaultUpstream();
  s = await startServer({ upstreamUrl: up.url, reconciler: false, env: { MAX_MULTIPART_BYTES: String(MULTIPART_LIMIT) } });
  funded = await s.newKey('100.00');
  broke = await s.newKey('0.00');
  revoked = await s.newKey('100.00');
  await s.reelay.deps.store.revokeKey(revoked.id, Date.now());
});

afterAll(async () => {
  // Nothing was forwarded, held or charged.
  expect(up.requests.length).toBe(0);
  expect(s.reelay.deps.database.sqlite.prepare('select count(*) as n from jobs').get()).toEqual({ n: 0 });
  expect(await s.violations()).toEqual([]);
  await s.close();
  await up.close();
});

const json = (key: string, bytes: number) =>
  head('POST', '/v1/videos', { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': bytes });
const multipart = (key: string, bytes: number | 'chunked') =>
  head('POST', '/v1/videos', {
    authorization: `Bearer ${key}`,
    'content-type': 'multipart/form-data; boundary=----reelay',
    ...(bytes === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': bytes }),
  });

/** The answer was read whole: status, envelope and request id, and the server said it closes. */
function expectAnswer(r: UploadResult, status: number, code: string): void {
  const detail = JSON.stringify({ ...r, body: r.body.slice(0, 200) });
  expect(r.status, detail).toBe(status);
  expect(envelope(r.body), detail).toMatchObject({ code });
  expect(r.headers['x-request-id'], detail).toMatch(/^req_/);
  expect(r.headers.connection, detail).toBe('close');
}

/** …and the connection ended cleanly once the whole body was sent (no reset, no give-up). */
function expectCleanClose(r: UploadResult, bodyBytes: number): void {
  expect({ error: r.error, serverEnded: r.serverEnded, gaveUp: r.gaveUp, sent: r.bytesSent }).toEqual({ error: null, serverEnded: true, gaveUp: false, sent: bodyBytes });
}

async function runs(n: number, one: () => Promise<UploadResult>, status: number, code: string, bodyBytes: number) {
  for (let i = 0; i < n; i++) {
    const r = await one();
    expectAnswer(r, status, code);
    expectCleanClose(r, bodyBytes);
  }
}

describe('answers sent before the body is read reach the client whole', () => {
  it('a 5 MB JSON body against the 1 MiB JSON limit: 413, read in full, in 20 runs out of 20', async () => {
    await runs(20, () => upload(s.port, { head: json(funded.secret, 5 * MB), bodyBytes: 5 * MB }), 413, 'request_too_large', 5 * MB);
  });

  it('a 5 MB multipart body against a 2 MiB multipart limit: 413 in 20 runs out of 20 (10 with content-length, 10 chunked)', async () => {
    await runs(10, () => upload(s.port, { head: multipart(funded.secret, 5 * MB), bodyBytes: 5 * MB }), 413, 'request_too_large', 5 * MB);
    // Chunked: refused while counting, after part of the body was read.
    await runs(10, () => upload(s.port, { head: multipart(funded.secret, 'chunked'), bodyBytes: 5 * MB, chunked: true }), 413, 'request_too_large', 5 * MB);
  });

  it('a large upload with a revoked key: 401 in 20 runs out of 20', async () => {
    await runs(20, () => upload(s.port, { head: multipart(revoked.secret, 1.5 * MB), bodyBytes: 1.5 * MB }), 401, 'invalid_api_key', 1.5 * MB);
  });

  it('a large upload from a key without balance: 429 insufficient_quota with x-should-retry: false, in 20 runs out of 20', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await upload(s.port, { head: multipart(broke.secret, 1.5 * MB), bodyBytes: 1.5 * MB });
      expectAnswer(r, 429, 'insufficient_quota');
      expect(r.headers['x-should-retry']).toBe('false');
      expectCleanClose(r, 1.5 * MB);
    }
  });

  it('on /admin as well: a large body without the admin token gets its 401 (content-length and chunked)', async () => {
    const h = (extra: Record<string, string | number>) => head('POST', '/admin/keys', { 'content-type': 'application/json', ...extra });
    for (let i = 0; i < 3; i++) {
      const r = await upload(s.port, { head: h({ 'content-length': 3 * MB }), bodyBytes: 3 * MB });
      expectAnswer(r, 401, 'unauthorized');
      expectCleanClose(r, 3 * MB);
      const c = await upload(s.port, { head: h({ 'transfer-encoding': 'chunked' }), bodyBytes: 3 * MB, chunked: true });
      expectAnswer(c, 401, 'unauthorized');
      expectCleanClose(c, 3 * MB);
    }
    // With the token, a body over the JSON limit is a 413 read in full.
    const r = await upload(s.port, { head: h({ authorization: `Bearer ${ADMIN_TOKEN}`, 'content-length': 3 * MB }), bodyBytes: 3 * MB });
    expectAnswer(r, 413, 'request_too_large');
    expectCleanClose(r, 3 * MB);
  });

  it('a client that reads nothing until its slow upload is sent still finds the answer (app, parser and bad-target refusals)', async () => {
    // ~1.3 s per upload: longer than any drain-then-reset, shorter than the 5 s linger.
    const slow = { bodyBytes: 2 * MB, chunkBytes: 64 * 1024, chunkDelayMs: 40, readAfterSending: true };
    const [tooLarge, noKey, badHeader, badHost] = await Promise.all([
      upload(s.port, { ...slow, head: json(funded.secret, 2 * MB) }),
      upload(s.port, { ...slow, head: multipart('sk-reelay-unknown', 2 * MB) }),
      // Node's parser refuses the head (a space inside a header name); reelay's clientError answer.
      upload(s.port, { ...slow, head: `POST /v1/videos HTTP/1.1\r\nhost: x\r\nbad header: 1\r\ncontent-length: ${2 * MB}\r\n\r\n` }),
      // A Host the router cannot use: answered before the app.
      upload(s.port, { ...slow, head: `POST /v1/videos HTTP/1.1\r\nhost: a b\r\ncontent-length: ${2 * MB}\r\n\r\n` }),
    ]);
    expectAnswer(tooLarge, 413, 'request_too_large');
    expectAnswer(noKey, 401, 'invalid_api_key');
    expectAnswer(badHeader, 400, 'invalid_request');
    expectAnswer(badHost, 400, 'invalid_request');
    for (const r of [tooLarge, noKey, badHeader, badHost]) expectCleanClose(r, 2 * MB);
  });
});

describe('the normal path is untouched', () => {
  it('an answer to a request whose body was read keeps the connection alive for the next request', async () => {
    const socket = connect(s.port, '127.0.0.1');
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    const text = () => Buffer.concat(got).toString('latin1');
    const until = async (n: number) => {
      for (let i = 0; i < 200 && (text().match(/HTTP\/1\.1 /g) ?? []).length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    try {
      // Read, then refused by validation.
      const body = '{"prompt":"p","seconds":"5"}';
      socket.write(`${json(funded.secret, body.length)}${body}`);
      await until(1);
      socket.write(head('GET', '/healthz', {}));
      await until(2);
    } finally {
      socket.destroy();
    }
    const [first = '', second = ''] = text().split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 400/);
    expect(first).toMatch(/\r\nconnection: keep-alive\r\n/i);
    expect(second).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('the official openai SDK reports the right error after exactly one attempt', () => {
  /** Requests that reached /v1/videos, from the request log. */
  const attempts = async () => {
    await s.reelay.deps.requestLog.flush();
    return (s.reelay.deps.database.sqlite.prepare("select count(*) as n from request_log where route = '/v1/videos' and method = 'POST'").get() as { n: number }).n;
  };
  const create = async (secret: string, bytes: number) => {
    const client = new OpenAI({ apiKey: secret, baseURL: `${s.base}/v1` }); // default maxRetries (2)
    const before = await attempts();
    const err = await client.videos
      .create({ prompt: 'a lighthouse', model: 'sora-2', input_reference: await toFile(Buffer.alloc(bytes, 1), 'ref.png', { type: 'image/png' }) })
      .then(() => null, (e: unknown) => e);
    return { err, attempts: (await attempts()) - before };
  };

  it('413 for an input_reference over the multipart limit: APIError with status 413', async () => {
    for (let i = 0; i < 3; i++) {
      const { err, attempts: n } = await create(funded.secret, 5 * MB);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).status).toBe(413);
      expect((err as APIError).code).toBe('request_too_large');
      expect(n).toBe(1);
    }
  });

  it('a revoked key: AuthenticationError', async () => {
    for (let i = 0; i < 3; i++) {
      const { err, attempts: n } = await create(revoked.secret, 5 * MB);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(n).toBe(1);
    }
  });

  it('a key without balance: RateLimitError (insufficient_quota), not retried', async () => {
    for (let i = 0; i < 3; i++) {
      const { err, attempts: n } = await create(broke.secret, 1.5 * MB);
      expect(err).toBeInstanceOf(RateLimitError);
      expect((err as RateLimitError).code).toBe('insufficient_quota');
      expect(n).toBe(1);
    }
  });
});

describe('at the real sizes (64 MiB multipart limit)', () => {
  let big: Server;
  beforeAll(async () => {
    big = await startServer({ upstreamUrl: up.url, reconciler: false });
  });
  afterAll(async () => {
    await big.close();
  });

  it('a 70 MB multipart upload gets its 413 whole (2 raw runs) and the SDK its APIError 413 after one attempt', { timeout: 120_000 }, async () => {
    const key = await big.newKey('100.00');
    for (let i = 0; i < 2; i++) {
      const r = await upload(big.port, { head: multipart(key.secret, 70 * MB), bodyBytes: 70 * MB, giveUpMs: 60_000 });
      // Past the 64 MiB linger bound the server stops reading, so the client may see its write
      // fail after the answer: what matters is that the answer was there first.
      expectAnswer(r, 413, 'request_too_large');
      expect(r.gaveUp).toBe(false);
    }
    let calls = 0;
    const client = new OpenAI({
      apiKey: key.secret,
      baseURL: `${big.base}/v1`,
      fetch: (url, init) => {
        if (String(url).startsWith(big.base)) calls++;
        return fetch(url, init);
      },
    });
    const err = await client.videos
      .create({ prompt: 'p', model: 'sora-2', input_reference: await toFile(Buffer.alloc(70 * MB, 1), 'ref.png', { type: 'image/png' }) })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(413);
    expect(calls).toBe(1);
  });
});

describe('the linger is bounded', () => {
  let timed: Server;
  let sized: Server;
  const TIME_BOUND = 800;
  const BYTE_BOUND = 2 * 1024 * 1024;
  beforeAll(async () => {
    timed = await startServer({ upstreamUrl: up.url, reconciler: false, env: { LINGER_TIMEOUT_MS: String(TIME_BOUND) } });
    // A time bound far past the test's own give-up: only the byte bound can end these.
    sized = await startServer({ upstreamUrl: up.url, reconciler: false, env: { LINGER_TIMEOUT_MS: '120000', LINGER_MAX_BYTES: String(BYTE_BOUND) } });
  });
  afterAll(async () => {
    await timed.close();
    await sized.close();
  });

  const healthy = async (base: string) => {
    const started = Date.now();
    const res = await fetch(`${base}/healthz`);
    return { status: res.status, ms: Date.now() - started };
  };

  it('a client that trickles its body without end is cut off at the time bound, and /healthz answers meanwhile', async () => {
    // 16 KiB every 20 ms: never near the byte bound.
    const forever = (h: string) => upload(timed.port, { head: h, bodyBytes: Infinity, chunkBytes: 16 * 1024, chunkDelayMs: 20, giveUpMs: 15_000 });
    const pending = [
      forever(json('sk-reelay-unknown', 10 ** 12)),
      forever(`POST /v1/videos HTTP/1.1\r\nhost: x\r\nbad header: 1\r\ncontent-length: ${10 ** 12}\r\n\r\n`),
    ];
    await new Promise((r) => setTimeout(r, TIME_BOUND / 4));
    const health = await healthy(timed.base);
    expect(health.status).toBe(200);
    expect(health.ms).toBeLessThan(3000);
    const [app, parser] = await Promise.all(pending);
    expectAnswer(app!, 401, 'invalid_api_key');
    expectAnswer(parser!, 400, 'invalid_request');
    for (const r of [app!, parser!]) {
      expect(r.gaveUp).toBe(false); // the server closed it, long before the 15 s give-up
      expect(r.elapsedMs).toBeGreaterThanOrEqual(TIME_BOUND - 50);
      expect(r.bytesSent).toBeLessThan(BYTE_BOUND * 4);
    }
  });

  it('a client that sends as fast as it can without end is cut off at the byte bound, and /healthz answers meanwhile', async () => {
    const forever = (h: string, chunked = false) => upload(sized.port, { head: h, bodyBytes: Infinity, chunked, giveUpMs: 30_000 });
    const pending = [
      forever(multipart('sk-reelay-unknown', 10 ** 12)),
      forever(head('POST', '/v1/videos', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }), true),
      forever(`POST /v1/videos HTTP/1.1\r\nhost: x\r\nbad header: 1\r\ncontent-length: ${10 ** 12}\r\n\r\n`),
    ];
    const health = await healthy(sized.base);
    expect(health.status).toBe(200);
    const results = await Promise.all(pending);
    for (const r of results) {
      expect(r.status).toBe(r === results[2] ? 400 : 401);
      expect(r.headers['x-request-id']).toMatch(/^req_/);
      expect(r.gaveUp).toBe(false); // closed by the server, not by the 120 s time bound
      expect(r.bytesSent).toBeGreaterThan(BYTE_BOUND);
      // The bound plus what the socket buffers on both sides hold.
      expect(r.bytesSent).toBeLessThan(BYTE_BOUND + 32 * 1024 * 1024);
    }
  });
});
