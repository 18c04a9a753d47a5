/**
 * After a burst of downloads reelay gives the memory back: the `@reelay/malloc-trim` addon returns
 * freed heap pages to the kernel, and Upstream.relay tells the process-wide tracker about every
 * download, so the release runs once the last one has ended and never while one is in progress.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Upstream } from '../../src/relay/upstream.js';
import { MIN_BYTES, QUIET_MS, TRIM_AFTER_GC_MS, downloadBursts, loadMallocTrim } from '../../src/relay/burst-release.js';

const MB = 1024 * 1024;
const FILE_BYTES = MIN_BYTES + 4 * MB;
let server: http.Server;
let upstream: Upstream;

beforeAll(async () => {
  const block = Buffer.alloc(MB, 7);
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(FILE_BYTES) });
    let sent = 0;
    const pump = () => {
      while (sent < FILE_BYTES) {
        sent += block.length;
        if (!res.write(block)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  upstream = new Upstream({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'k', timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 10_000 } });
});

afterAll(async () => {
  await upstream.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('the malloc_trim addon', () => {
  it('gives freed heap pages back to the kernel', () => {
    expect(loadMallocTrim()).toBeTypeOf('function');
    // A fresh process frees 64 MiB of socket-sized buffers while a later allocation pins the top
    // of the heap (as live requests do), so glibc keeps the pages until malloc_trim.
    const addon = createRequire(import.meta.url).resolve('@reelay/malloc-trim');
    const script = `
      const { trim } = require(${JSON.stringify(addon)});
      let chunks = [];
      for (let i = 0; i < 1024; i++) chunks.push(Buffer.allocUnsafeSlow(64 * 1024).fill(1));
      const pin = Buffer.allocUnsafeSlow(64 * 1024).fill(1);
      chunks = null;
      gc();
      setTimeout(() => {
        const kept = process.memoryUsage().rss;
        const released = trim();
        console.log(JSON.stringify({ kept, after: process.memoryUsage().rss, released, pin: pin.length }));
      }, 300);`;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })) as { kept: number; after: number; released: boolean };
    expect(out.released).toBe(true);
    expect(out.kept - out.after).toBeGreaterThan(32 * MB);
  });
});

describe('Upstream.relay and the release after a burst', () => {
  it('releases once the last download has ended, not while one is still in progress', async () => {
    const before = downloadBursts.releases;

    // A client that stops reading: its download stays in progress.
    let stalled!: Writable;
    const stalledDone = new Promise<void>((resolve) => {
      stalled = new Writable({ highWaterMark: 64 * 1024, write: () => resolve() });
    });
    const slow = upstream.relay({ method: 'GET', path: '/videos/a/content', headers: {} }, stalled, () => {}).catch((e: unknown) => e);
    await stalledDone;

    // A whole download of more than MIN_BYTES finishes meanwhile.
    let received = 0;
    const reader = new Writable({
      write(chunk: Buffer, _enc, done) {
        received += chunk.length;
        done();
      },
    });
    await expect(upstream.relay({ method: 'GET', path: '/videos/b/content', headers: {} }, reader, () => {})).resolves.toBe(FILE_BYTES);
    expect(received).toBe(FILE_BYTES);

    await sleep(QUIET_MS + TRIM_AFTER_GC_MS + 300);
    expect(downloadBursts.releases).toBe(before);

    stalled.destroy(); // the slow client hangs up: the burst is over
    expect(await slow).toMatchObject({ side: 'client' });
    await sleep(QUIET_MS + TRIM_AFTER_GC_MS + 300);
    expect(downloadBursts.releases).toBe(before + 1);
  });
});
