import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { envelope, rawExchange, sleep, startServer, waitFor, type Server } from './support.js';
import { createApp } from '../../src/app.js';

/**
 * Clients that misbehave, against a real reelay server on 127.0.0.1: downloads cancelled midway,
 * hang-ups right after a create, slow-drip headers and bodies, crowds of idle connections. The
 * server keeps its timeouts short here so every case finishes in about a second.
 */
const HEADERS_TIMEOUT = 600;
const REQUEST_TIMEOUT = 1500;
const KEEPALIVE_TIMEOUT = 500;
/** Node checks connection deadlines every min(1 s, headers timeout / 2). */
const CHECK = 300;
/** rawExchange gives up (closedByServer false) after this: past every bound below. */
const RAW_LIMIT = 5000;

let up: FaultUpstream;
let s: Server;
let key: { id: string; secret: string };

beforeAll(async () => {
  // Content trickles (16 KiB every 2 ms), so a download is still streaming when a client gives up.
  up = await startFaultUpstream({ contentBytes: 4 * 1024 * 1024, chunkBytes: 16 * 1024, chunkDelayMs: 2 });
  s = await startServer({
    upstreamUrl: up.url,
    env: {
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT),
      HTTP_KEEPALIVE_TIMEOUT_MS: String(KEEPALIVE_TIMEOUT),
      UPSTREAM_BODY_TIMEOUT_MS: '400',
      RECONCILER_INTERVAL_MS: '100',
      RECONCILER_MIN_POLL_MS: '100',
    },
  });
  key = await s.newKey('100.00');
});

afterAll(async () => {
  await s.reelay.deps.requestLog.flush();
  expect(await s.violations()).toEqual([]);
  expect(s.leaks()).toEqual([]);
  expect(s.capture.logs.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  await s.close();
  await up.close();
});

/** The request-log row of a download (written when the stream ends, then flushed). */
async function contentLogRow(id: string): Promise<unknown> {
  const sqlite = s.reelay.deps.database.sqlite;
  const get = async () => {
    await s.reelay.deps.requestLog.flush();
    return sqlite.prepare("select status, error_code from request_log where video_id = ? and route like '%content'").get(id);
  };
  await waitFor(async () => (await get()) !== undefined, 3000);
  return get();
}

/**
 * A video to misbehave on. Made through the app in process (same database, upstream and key), not
 * over a socket: this server's header and request deadlines are a fraction of a second, and on a
 * starved machine Node's deadline check can run before an ordinary setup request's bytes are
 * read. The misbehaving requests under test all go over real sockets.
 */
async function newVideo(): Promise<string> {
  const res = await createApp(s.reelay.deps).request('/v1/videos', {
    method: 'POST',
    headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'p' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

/** Upstream requests a client caused (the server's own reconciler polls are left out). */
const clientCaused = () => up.requests.filter((r) => !(r.method === 'GET' && /^\/v1\/videos\/video_[^/]+$/.test(r.path))).length;
const contentRequests = (id: string) => up.requests.filter((r) => r.path === `/v1/videos/${id}/content`);

describe('downloads cancelled midway', () => {
  it('release the upstream socket within a second, for 8 concurrent downloads', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => newVideo()));
    up.script({ path: /\/content$/, behaviour: { kind: 'delay', ms: 0 } });
    const aborted = await Promise.all(
      ids.map(async (id) => {
        const ctrl = new AbortController();
        const res = await fetch(`${s.base}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${key.secret}` }, signal: ctrl.signal });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-length')).toBe(String(4 * 1024 * 1024));
        const reader = res.body!.getReader();
        let got = 0;
        while (got < 64 * 1024) got += (await reader.read()).value?.length ?? 0;
        ctrl.abort();
        return { id, at: Date.now() };
      }),
    );
    up.reset();
    for (const { id, at } of aborted) {
      const rec = contentRequests(id)[0]!;
      expect(await waitFor(() => rec.closedAt !== null, 2000)).toBe(true);
      expect(rec.finished).toBe(false);
      expect(rec.closedAt! - at).toBeLessThan(1000);
    }
  });

  it('release the upstream socket when the client vanishes before the upstream answered', async () => {
    const id = await newVideo();
    up.script({ path: `/v1/videos/${id}/content`, times: 1, behaviour: { kind: 'hang' } });
    const socket = connect(s.port, '127.0.0.1');
    socket.write(`GET /v1/videos/${id}/content HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.secret}\r\n\r\n`);
    expect(await waitFor(() => contentRequests(id).length === 1, 2000)).toBe(true);
    const at = Date.now();
    socket.destroy();
    const rec = contentRequests(id)[0]!;
    expect(await waitFor(() => rec.closedAt !== null, 2000)).toBe(true);
    expect(rec.closedAt! - at).toBeLessThan(1000);
  });

  it('a status poll whose client vanishes before the upstream answered releases the upstream socket', async () => {
    const id = await newVideo();
    const marker = `vanishing-poll-${id}`;
    // Only this client's poll hangs (the reconciler's own polls of the job are answered).
    up.choose((r) => (r.headers['x-client-request-id'] === marker ? { kind: 'hang' } : undefined));
    try {
      const polls = () => up.requests.filter((r) => r.headers['x-client-request-id'] === marker);
      const socket = connect(s.port, '127.0.0.1');
      socket.write(`GET /v1/videos/${id} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.secret}\r\nx-client-request-id: ${marker}\r\n\r\n`);
      expect(await waitFor(() => polls().length === 1, 2000)).toBe(true);
      const at = Date.now();
      socket.destroy();
      const rec = polls()[0]!;
      expect(await waitFor(() => rec.closedAt !== null, 2000)).toBe(true);
      expect(rec.closedAt! - at).toBeLessThan(1000);
    } finally {
      up.choose(null);
    }
  });

  it('release the upstream socket when the client stops mid-stream on a raw socket', async () => {
    const id = await newVideo();
    const socket = connect(s.port, '127.0.0.1');
    let received = 0;
    const enough = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        received += d.length;
        if (received > 256 * 1024) resolve();
      }),
    );
    socket.write(`GET /v1/videos/${id}/content HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.secret}\r\n\r\n`);
    await enough;
    const at = Date.now();
    socket.destroy();
    const rec = contentRequests(id)[0]!;
    expect(await waitFor(() => rec.closedAt !== null, 2000)).toBe(true);
    expect(rec.closedAt! - at).toBeLessThan(1000);
    expect(await contentLogRow(id)).toEqual({ status: 200, error_code: 'client_closed' });
  });

  it('a content stream that stalls midway is cut by the body timeout; the client sees a truncated body, reelay stays up', async () => {
    const id = await newVideo();
    up.script({ path: `/v1/videos/${id}/content`, times: 1, behaviour: { kind: 'stall-midway', afterBytes: 100 * 1024 } });
    const started = Date.now();
    const outcome = await download(id);
    expect(outcome.status).toBe(200);
    expect(outcome.bytes).toBeLessThan(4 * 1024 * 1024);
    expect(outcome.error).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await s.call('/healthz')).status).toBe(200);
    expect(await contentLogRow(id)).toEqual({ status: 200, error_code: 'upstream_stream_error' });
  });

  it('a content stream that breaks midway ends the client response as broken, not as complete', async () => {
    const id = await newVideo();
    up.script({ path: `/v1/videos/${id}/content`, times: 1, behaviour: { kind: 'break-midway', afterBytes: 300 * 1024 } });
    const outcome = await download(id);
    expect(outcome.status).toBe(200);
    expect(outcome.error).toBe(true);
    expect(outcome.bytes).toBeLessThan(4 * 1024 * 1024);
    expect(await contentLogRow(id)).toEqual({ status: 200, error_code: 'upstream_stream_error' });
  });

  it('a whole download still works afterwards, byte for byte', async () => {
    const id = await newVideo();
    const outcome = await download(id);
    expect(outcome).toMatchObject({ status: 200, bytes: 4 * 1024 * 1024, error: false });
  });
});

/** Downloads with node:http so a truncated body shows as an error (fetch hides some of those). */
function download(id: string): Promise<{ status: number; bytes: number; error: boolean }> {
  return new Promise((resolve) => {
    const req = httpRequest(`${s.base}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${key.secret}` } }, (res) => {
      let bytes = 0;
      let error = false;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('aborted', () => (error = true));
      res.on('error', () => (error = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes, error: error || !res.complete }));
    });
    req.on('error', () => resolve({ status: 0, bytes: 0, error: true }));
    req.end();
  });
}

describe('clients that hang up after sending a create', () => {
  it('still get their job recorded, held and later settled by the reconciler', async () => {
    const k = await s.newKey('5.00');
    const rid = `hangup-${Date.now()}`;
    up.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'delay', ms: 400 } });
    const body = JSON.stringify({ prompt: 'hang up on me', seconds: '8' });
    const socket = connect(s.port, '127.0.0.1');
    await new Promise<void>((resolve) =>
      socket.write(
        `POST /v1/videos HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${k.secret}\r\ncontent-type: application/json\r\nx-client-request-id: ${rid}\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        () => resolve(),
      ),
    );
    await sleep(50);
    socket.destroy();
    const sqlite = s.reelay.deps.database.sqlite;
    const jobOf = () => sqlite.prepare('select status, video_id as videoId, held_micros as held, charged_micros as charged from jobs where key_id = ?').get(k.id) as { status: string; videoId: string | null; held: number; charged: number } | undefined;
    expect(await waitFor(() => jobOf()?.videoId != null, 3000)).toBe(true);
    expect(up.creates().filter((r) => r.headers['x-client-request-id'] === rid)).toHaveLength(1);
    expect(jobOf()).toMatchObject({ status: 'queued', held: 800_000 });
    up.setJob(jobOf()!.videoId!, { status: 'completed', progress: 100, seconds: '8' });
    expect(await waitFor(() => jobOf()!.status === 'completed', 5000)).toBe(true);
    expect(jobOf()).toMatchObject({ charged: 800_000 });
    expect(await s.reelay.deps.store.getKey(k.id)).toMatchObject({ balanceMicros: 4_200_000, heldMicros: 0 });
  });

  it('that hang up halfway through the body create nothing, hold nothing and are not logged as server errors', async () => {
    const k = await s.newKey('5.00');
    const before = up.creates().length;
    const socket = connect(s.port, '127.0.0.1');
    socket.write(`POST /v1/videos HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${k.secret}\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{"prompt": "half`);
    await sleep(150);
    socket.destroy();
    await sleep(200);
    expect(up.creates().length).toBe(before);
    expect(s.reelay.deps.database.sqlite.prepare('select count(*) as n from jobs where key_id = ?').get(k.id)).toEqual({ n: 0 });
    expect(await s.reelay.deps.store.getKey(k.id)).toMatchObject({ balanceMicros: 5_000_000, heldMicros: 0 });
  });
});

describe('slow-drip clients', () => {
  it('dripping headers are answered 408 in the envelope and closed by the headers timeout (20 at once)', async () => {
    const before = clientCaused();
    const head = `GET /v1/videos HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.secret}\r\nx-slow: ${'z'.repeat(200)}\r\n\r\n`;
    const results = await Promise.all(Array.from({ length: 20 }, () => s.raw(head, { dripMs: 50, timeoutMs: RAW_LIMIT })));
    for (const r of results) {
      expect(r.closedByServer).toBe(true);
      // Generous for a loaded machine; without the headers timeout the drip would run ~16 s and
      // end at RAW_LIMIT (closedByServer false).
      expect(r.elapsedMs).toBeLessThan(HEADERS_TIMEOUT + 2 * CHECK + 2000);
      expect(r.status).toBe(408);
      expect(envelope(r.body)).toMatchObject({ code: 'request_timeout' });
      expect(r.headers['x-request-id']).toMatch(/^req_/);
    }
    expect(clientCaused()).toBe(before);
  });

  it('a dripping body is cut by the request timeout: 408, no upstream call, no job, no hold', async () => {
    const k = await s.newKey('5.00');
    const before = clientCaused();
    const body = JSON.stringify({ prompt: 'x'.repeat(300) });
    const head = `POST /v1/videos HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${k.secret}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    // Headers at once, then the body one byte every 40 ms: it would take 12 s.
    const socket = connect(s.port, '127.0.0.1');
    const started = Date.now();
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write(head);
    let i = 0;
    const drip = setInterval(() => !socket.destroyed && i < body.length && socket.write(body[i++]!), 40);
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    clearInterval(drip);
    // Generous for a loaded machine, and still far below the 12 s the drip would take uncut.
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT + 2 * CHECK + 2000);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(clientCaused()).toBe(before);
    expect(s.reelay.deps.database.sqlite.prepare('select count(*) as n from jobs where key_id = ?').get(k.id)).toEqual({ n: 0 });
    expect(await s.reelay.deps.store.getKey(k.id)).toMatchObject({ heldMicros: 0 });
  });

  it('a slow reader is cut by neither the request timeout nor the upstream body timeout', async () => {
    const id = await newVideo();
    // The client stops reading for 2 s (longer than the request timeout and four times the
    // upstream body-idle timeout), then reads the rest.
    const outcome = await new Promise<{ bytes: number; complete: boolean; ms: number }>((resolve) => {
      const started = Date.now();
      httpRequest(`${s.base}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${key.secret}` } }, (res) => {
        let bytes = 0;
        let paused = false;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
          if (!paused) {
            paused = true;
            res.pause();
            setTimeout(() => res.resume(), 2000);
          }
        });
        res.on('close', () => resolve({ bytes, complete: res.complete, ms: Date.now() - started }));
      }).end();
    });
    expect(outcome.ms).toBeGreaterThan(REQUEST_TIMEOUT);
    expect(outcome.bytes).toBe(4 * 1024 * 1024);
    expect(outcome.complete).toBe(true);
  });
});

describe('crowds of idle connections', () => {
  it('300 idle keep-alive connections are closed after the keep-alive timeout while new requests are served', async () => {
    const sockets: Socket[] = [];
    /** how long each connection stayed open after its response, until the server closed it */
    const idleMs: number[] = [];
    await Promise.all(
      Array.from(
        { length: 300 },
        () =>
          new Promise<void>((resolve) => {
            const sock = connect(s.port, '127.0.0.1');
            sockets.push(sock);
            let answeredAt: number | null = null;
            sock.on('data', () => {
              if (answeredAt === null) {
                answeredAt = Date.now();
                resolve();
              }
            });
            sock.on('close', () => idleMs.push(answeredAt === null ? Infinity : Date.now() - answeredAt));
            sock.on('error', () => {});
            sock.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
          }),
      ),
    );
    // The server is still responsive while they idle.
    const t = Date.now();
    expect((await s.call('/healthz')).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(500);
    expect(await waitFor(() => idleMs.length === 300, 6000, 50)).toBe(true);
    // Measured per connection from its own response, so the time a loaded machine takes to open
    // 300 connections does not count; Node's default keep-alive (5 s) would exceed this.
    expect(Math.max(...idleMs)).toBeLessThan(KEEPALIVE_TIMEOUT + 3000);
  });

  it('300 connections that never send a byte are answered 408 and closed', async () => {
    const results = await Promise.all(Array.from({ length: 300 }, () => rawExchange(s.port, '', { timeoutMs: RAW_LIMIT })));
    for (const r of results) {
      expect(r.closedByServer).toBe(true);
      // Generous for a loaded machine; a connection the server never closed would end at
      // RAW_LIMIT (closedByServer false).
      expect(r.elapsedMs).toBeLessThan(HEADERS_TIMEOUT + 2 * CHECK + 2500);
    }
    expect(results.filter((r) => r.status === 408).length).toBeGreaterThan(250);
    expect((await s.call('/healthz')).status).toBe(200);
  });
});
