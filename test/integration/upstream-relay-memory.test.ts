/**
 * Upstream.relay keeps a slow download's memory to what is in flight. undici hands a handler's
 * controller the response head as raw bytes, which are slices of the socket read the head came
 * in (up to 64 KiB, shared with the first body bytes); relay lets go of them, so that read buffer
 * is freed as soon as its body bytes have gone to the client, not when the download ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Writable } from 'node:stream';
import { Upstream } from '../../src/relay/upstream.js';
import { fullGc } from '../helpers/gc.js';

const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 2048\r\n\r\n';
let server: net.Server;
let upstream: Upstream;
const open: net.Socket[] = [];

beforeAll(async () => {
  // A raw server, so the head and the first body bytes leave in one write and arrive in one read.
  server = net.createServer((socket) => {
    open.push(socket);
    socket.once('data', () => socket.write(HEAD + 'a'.repeat(1024)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  upstream = new Upstream({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'k', timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 5000 } });
});

afterAll(async () => {
  await upstream.destroy();
  for (const s of open) s.destroy();
  await new Promise((r) => server.close(r));
});

describe('Upstream.relay memory', () => {
  it('frees the read buffer the response head arrived in while the download is still going', async () => {
    const gc = fullGc();
    expect(gc).not.toBeNull();
    let firstReadFreed = false;
    const freed = new FinalizationRegistry(() => (firstReadFreed = true));
    let gotFirst!: () => void;
    const first = new Promise<void>((r) => (gotFirst = r));
    let received = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (received === 0) freed.register(chunk.buffer, 'first read');
        received += chunk.length;
        done();
        if (received === 1024) gotFirst();
      },
    });
    let status = 0;
    const relayed = upstream.relay({ method: 'GET', path: '/videos/v/content', headers: {} }, sink, (head) => (status = head.status));
    await first;
    expect(status).toBe(200);

    // The head and the first 1,024 body bytes were one read; the rest of the body has not come,
    // so the download is still going while the client has everything relayed so far.
    for (let i = 0; i < 5 && !firstReadFreed; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10)); // finalization callbacks run in a later task
    }
    expect(firstReadFreed).toBe(true);

    open.at(-1)!.write('b'.repeat(1024));
    await expect(relayed).resolves.toBe(2048);
    expect(received).toBe(2048);
  });
});
