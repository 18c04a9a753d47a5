/** Content download: ranges, the synthetic stream, backpressure and prompt shutdown. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator, syntheticBytes } from '../../src/simulator/index.js';

const asset = (f: string) => readFileSync(new URL(`../../src/simulator/assets/${f}`, import.meta.url));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function completedId(h: SimulatorHandle): Promise<string> {
  const res = await fetch(`${h.url}/videos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'content test' }),
  });
  const { id } = (await res.json()) as { id: string };
  for (let i = 0; i < 200; i++) {
    const v = (await (await fetch(`${h.url}/videos/${id}`)).json()) as { status: string };
    if (v.status === 'completed') return id;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('not completed');
}

describe('content of the real assets', () => {
  let h: SimulatorHandle;
  let id: string;
  beforeAll(async () => {
    h = await startSimulator({ jobDurationMs: 50 });
    id = await completedId(h);
  });
  afterAll(() => h.close());

  it.each([
    ['video', 'sample.mp4', 'video/mp4'],
    ['thumbnail', 'thumbnail.webp', 'image/webp'],
    ['spritesheet', 'spritesheet.jpg', 'image/jpeg'],
  ])('%s: full download and Range requests', async (variant, file, type) => {
    const bytes = asset(file);
    const url = `${h.url}/videos/${id}/content?variant=${variant}`;

    const full = await fetch(url);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe(type);
    expect(full.headers.get('content-length')).toBe(String(bytes.length));
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);

    const part = await fetch(url, { headers: { range: 'bytes=100-1099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${bytes.length}`);
    expect(part.headers.get('content-length')).toBe('1000');
    expect(part.headers.get('content-type')).toBe(type);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 1100))).toBe(true);

    const tail = await fetch(url, { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 10))).toBe(true);

    const open = await fetch(url, { headers: { range: `bytes=${bytes.length - 5}-` } });
    expect(open.headers.get('content-range')).toBe(`bytes ${bytes.length - 5}-${bytes.length - 1}/${bytes.length}`);
    expect((await open.arrayBuffer()).byteLength).toBe(5);

    const bad = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
  });

  it('rejects an unknown variant with 400 param variant', async () => {
    const res = await fetch(`${h.url}/videos/${id}/content?variant=gif`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('variant');
  });
});

describe('synthetic content (contentBytes)', () => {
  const SIZE = 5 * 1024 * 1024 + 7;
  let h: SimulatorHandle;
  let id: string;
  beforeAll(async () => {
    h = await startSimulator({ jobDurationMs: 50, contentBytes: SIZE, apiKey: 'k' });
    id = await completedId2();
  });
  afterAll(() => h.close());

  async function completedId2(): Promise<string> {
    const client = new OpenAI({ apiKey: 'k', baseURL: h.url, maxRetries: 0 });
    const v = await client.videos.create({ prompt: 'big' });
    for (let i = 0; i < 200; i++) {
      if ((await client.videos.retrieve(v.id)).status === 'completed') return v.id;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('not completed');
  }

  it('streams exactly contentBytes deterministic bytes as video/mp4 (via the SDK)', async () => {
    const client = new OpenAI({ apiKey: 'k', baseURL: h.url, maxRetries: 0 });
    const res = await client.videos.downloadContent(id);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-length')).toBe(String(SIZE));
    const hash = createHash('sha256');
    let total = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      total += chunk.length;
    }
    expect(total).toBe(SIZE);
    expect(hash.digest('hex')).toBe(sha256(syntheticBytes(0, SIZE)));
  });

  it('serves ranges of the synthetic stream', async () => {
    const res = await fetch(`${h.url}/videos/${id}/content`, {
      headers: { authorization: 'Bearer k', range: 'bytes=3000000-3999999' },
    });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 3000000-3999999/${SIZE}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(syntheticBytes(3_000_000, 1_000_000))).toBe(true);
  });

  it('thumbnails stay the real asset', async () => {
    const res = await fetch(`${h.url}/videos/${id}/content?variant=thumbnail`, { headers: { authorization: 'Bearer k' } });
    expect(Buffer.from(await res.arrayBuffer()).equals(asset('thumbnail.webp'))).toBe(true);
  });
});

describe('streaming behaviour', () => {
  it('does not buffer a huge synthetic video for a client that stops reading', async () => {
    const SIZE = 2 * 1024 * 1024 * 1024; // 2 GiB: would be impossible to hold in memory
    const h = await startSimulator({ jobDurationMs: 0, contentBytes: SIZE });
    try {
      const id = await completedId(h);
      const before = process.memoryUsage().arrayBuffers;
      const { res, req } = await new Promise<{ res: http.IncomingMessage; req: http.ClientRequest }>((resolve, reject) => {
        const req = http.get(`${h.url}/videos/${id}/content`, (res) => resolve({ res, req }));
        req.on('error', reject);
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBe(String(SIZE));
      let received = 0;
      res.on('data', (c: Buffer) => {
        received += c.length;
        if (received > 1024 * 1024) res.pause(); // read ~1 MiB, then stop reading
      });
      await new Promise((r) => setTimeout(r, 800));
      const grown = process.memoryUsage().arrayBuffers - before;
      expect(received).toBeLessThan(64 * 1024 * 1024);
      expect(grown).toBeLessThan(64 * 1024 * 1024);
      req.destroy();
    } finally {
      await h.close();
    }
  });

  it('close() resolves promptly even with a download in flight', async () => {
    const h = await startSimulator({ jobDurationMs: 0, contentBytes: 1024 * 1024 * 1024 });
    const id = await completedId(h);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${h.url}/videos/${id}/content`, resolve).on('error', reject);
    });
    res.on('error', () => {});
    res.once('data', () => res.pause());
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await h.close();
    // Without closing the paused download's socket, close() would wait for a 1 GiB stream nobody
    // reads (that is, forever); 3 s leaves a loaded machine room and is still far from that.
    expect(performance.now() - t0).toBeLessThan(3000);
    await expect(fetch(`${h.url}/videos`)).rejects.toThrow();
  });
});
