/**
 * Upstream.fetchSmall reads status polls, deletes and creates whole without a body stream. These
 * tests hold it to what the routes rely on, against a real node:http upstream on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { Upstream, UpstreamFailure, type UpstreamRequest } from '../../src/relay/upstream.js';

let server: http.Server;
let upstream: Upstream;
let closedEarly = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) closedEarly++;
    });
    if (req.url === '/v1/chunks') {
      // A body in three writes, the head sent before the rest.
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'upreq_1' });
      res.write('{"id":');
      setTimeout(() => res.write('"video_1",'), 20);
      setTimeout(() => res.end('"status":"queued"}'), 40);
    } else if (req.url === '/v1/big') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(4096, 'a'));
    } else if (req.url === '/v1/hang') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
    } else if (req.url === '/v1/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"id":');
      setTimeout(() => res.destroy(), 10);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  upstream = new Upstream({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'k', timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 2000 } });
});

afterAll(async () => {
  await upstream.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected a failure'),
    (err: unknown) => err as UpstreamFailure,
  );

describe('Upstream.fetchSmall', () => {
  it('gathers a body written in several pieces, and reports the head before the body is complete', async () => {
    const events: string[] = [];
    const res = await upstream.fetchSmall({ method: 'GET', path: '/chunks', headers: {} }, (head) => {
      events.push(`head ${head.status} ${String(head.headers['x-request-id'])}`);
    });
    events.push('body');
    expect(events).toEqual(['head 200 upreq_1', 'body']);
    expect(JSON.parse(res.bytes.toString('utf8'))).toEqual({ id: 'video_1', status: 'queued' });
    expect(res.status).toBe(200);
  });

  it('refuses a body over its limit as a bad response', async () => {
    const err = await failureOf(upstream.fetchSmall({ method: 'GET', path: '/big', headers: {} }, undefined, 1024));
    expect(err).toBeInstanceOf(UpstreamFailure);
    expect(err.kind).toBe('bad_response');
    const ok = await upstream.fetchSmall({ method: 'GET', path: '/big', headers: {} }, undefined, 4096);
    expect(ok.bytes.length).toBe(4096);
  });

  it('a body cut off before its content-length is an upstream failure', async () => {
    const err = await failureOf(upstream.fetchSmall({ method: 'GET', path: '/cut', headers: {} }));
    expect(err).toBeInstanceOf(UpstreamFailure);
    expect(['reset', 'bad_response']).toContain(err.kind);
  });

  /** A hanging upstream request, cut off by `hangUp` 50 ms in: aborted, and the upstream sees it close. */
  async function expectHangUpReleasesUpstream(hangUp: Pick<UpstreamRequest, 'signal' | 'client'>, fire: () => void) {
    const before = closedEarly;
    const pending = upstream.fetchSmall({ method: 'GET', path: '/hang', headers: {}, ...hangUp });
    setTimeout(fire, 50);
    expect((await failureOf(pending)).kind).toBe('aborted');
    for (let i = 0; i < 100 && closedEarly === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closedEarly).toBe(before + 1);
  }

  it('stops when its signal fires (the client hung up), and closes the upstream request', async () => {
    const ac = new AbortController();
    await expectHangUpReleasesUpstream({ signal: ac.signal }, () => ac.abort());
  });

  it("stops when the client's response closes before it finished, and closes the upstream request", async () => {
    const client = new PassThrough();
    await expectHangUpReleasesUpstream({ client }, () => client.destroy());
  });

  it('does not start when its signal has already fired', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await failureOf(upstream.fetchSmall({ method: 'GET', path: '/chunks', headers: {}, signal: ac.signal }));
    expect(err.kind).toBe('aborted');
  });
});
