import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type ByteSource,
  assetBytes,
  assetSource,
  byteResponse,
  parseRange,
  streamRange,
  syntheticBytes,
  syntheticSource,
} from '../../src/simulator/media.js';

describe('parseRange', () => {
  const size = 1000;
  it.each([
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'partial', start: 100, end: 999 }],
    ['bytes=-10', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=990-5000', { kind: 'partial', start: 990, end: 999 }],
    ['bytes = 5 - 6', { kind: 'partial', start: 5, end: 6 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', { kind: 'full' }],
    ['bytes=9-3', { kind: 'full' }],
    ['items=0-1', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    ['garbage', { kind: 'full' }],
  ])('%s', (header, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it('no header means the full resource', () => {
    expect(parseRange(undefined, size)).toEqual({ kind: 'full' });
  });
});

describe('syntheticBytes', () => {
  it('is deterministic and consistent at any offset', () => {
    const whole = syntheticBytes(0, 300_000);
    expect(syntheticBytes(0, 300_000).equals(whole)).toBe(true);
    for (const [off, len] of [[1, 10], [65_530, 20], [131_071, 70_000], [299_990, 10]] as const) {
      expect(syntheticBytes(off, len).equals(whole.subarray(off, off + len))).toBe(true);
    }
  });

  it('does not repeat block to block', () => {
    const a = syntheticBytes(0, 65_536);
    const b = syntheticBytes(65_536, 65_536);
    expect(a.equals(b)).toBe(false);
    expect(new Set(a).size).toBeGreaterThan(200); // looks like noise, not a constant
  });
});

describe('assets', () => {
  it('are real, small media files', () => {
    const mp4 = assetBytes('video');
    expect(mp4.length).toBeLessThan(100 * 1024);
    expect(mp4.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(mp4.includes(Buffer.from('avc1'))).toBe(true); // H.264 sample entry
    const webp = assetBytes('thumbnail');
    expect(webp.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(webp.subarray(8, 12).toString('latin1')).toBe('WEBP');
    const jpg = assetBytes('spritesheet');
    expect([...jpg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });

  it('are read from src/simulator/assets', () => {
    const onDisk = readFileSync(new URL('../../src/simulator/assets/sample.mp4', import.meta.url));
    expect(assetBytes('video').equals(onDisk)).toBe(true);
    expect(assetSource('thumbnail').contentType).toBe('image/webp');
    expect(assetSource('spritesheet').contentType).toBe('image/jpeg');
  });
});

describe('byteResponse', () => {
  it('serves the whole resource with 200, length and accept-ranges', async () => {
    const res = byteResponse(assetSource('video'), undefined);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-length')).toBe(String(assetBytes('video').length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer()).equals(assetBytes('video'))).toBe(true);
  });

  it('serves a range with 206 and content-range', async () => {
    const res = byteResponse(syntheticSource(1_000_000), 'bytes=500000-500099');
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 500000-500099/1000000');
    expect(res.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await res.arrayBuffer()).equals(syntheticBytes(500_000, 100))).toBe(true);
  });

  it('answers 416 with content-range */size for an unsatisfiable range', async () => {
    const res = byteResponse(syntheticSource(10), 'bytes=10-');
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */10');
    expect((await res.json()).error.code).toBe('range_not_satisfiable');
  });

  it('serves an empty resource as 200 with length 0', async () => {
    const res = byteResponse(syntheticSource(0), undefined);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe('streamRange', () => {
  it('produces chunks only as they are pulled (backpressure)', async () => {
    let reads = 0;
    const src: ByteSource = {
      size: 10 * 1024 * 1024,
      contentType: 'video/mp4',
      read: (o, n) => {
        reads++;
        return syntheticBytes(o, n);
      },
    };
    const reader = streamRange(src, 0, src.size - 1, 1024).getReader();
    await new Promise((r) => setTimeout(r, 20));
    expect(reads).toBeLessThanOrEqual(2); // not the 10240 chunks of the whole stream
    const first = await reader.read();
    expect(first.value!.length).toBe(1024);
    await new Promise((r) => setTimeout(r, 20));
    expect(reads).toBeLessThanOrEqual(3);
    await reader.cancel();
  });

  it('covers exactly [start, end]', async () => {
    const src = syntheticSource(5000);
    const chunks: Uint8Array[] = [];
    for await (const c of streamRange(src, 123, 4321, 1000)) chunks.push(c);
    expect(Buffer.concat(chunks).equals(syntheticBytes(123, 4321 - 123 + 1))).toBe(true);
    expect(chunks.map((c) => c.length)).toEqual([1000, 1000, 1000, 1000, 199]);
  });
});
