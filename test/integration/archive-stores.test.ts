import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { DirectoryStore } from '../../src/archive/dir-store.js';
import { S3Store } from '../../src/archive/s3-store.js';
import type { ArchiveObjectStore } from '../../src/archive/object-store.js';
import { syntheticBytes } from '../../src/simulator/index.js';
import { startS3 } from '../helpers/s3.js';

/** Both archive stores against the same behaviours: the directory and a real S3-compatible server (s3rver). */
let s3: Awaited<ReturnType<typeof startS3>>;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => s3?.close());

const bytesOf = async (r: Readable | undefined) => {
  const chunks: Buffer[] = [];
  for await (const c of r!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** A body that yields `data` in 64 KiB chunks, then (optionally) fails. */
function body(data: Buffer, failAfter?: number): Readable {
  let pos = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && pos >= failAfter) return this.destroy(new Error('upstream reset'));
      if (pos >= data.length) return this.push(null);
      this.push(data.subarray(pos, pos + 65536));
      pos += 65536;
    },
  });
}

const stores: { name: string; make: () => ArchiveObjectStore }[] = [
  { name: 'directory', make: () => new DirectoryStore(mkdtempSync(join(tmpdir(), 'reelay-dir-'))) },
  {
    name: 's3',
    make: () =>
      new S3Store({ bucket: s3.bucket, prefix: 'reelay/test', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }),
  },
];

describe.each(stores)('the $name archive store', ({ make }) => {
  it('stores a multi-part object (12 MiB) and reads it whole and by absolute ranges', async () => {
    const store = make();
    const data = syntheticBytes(0, 12 * 1024 * 1024 + 123);
    expect(await store.put('job_a/video', body(data), { contentType: 'video/mp4', length: data.length })).toBe(data.length);
    expect((await bytesOf(await store.get('job_a/video'))).equals(data)).toBe(true);
    expect((await bytesOf(await store.get('job_a/video', { start: 5, end: 104 }))).equals(data.subarray(5, 105))).toBe(true);
    // A suffix range, as reelay sends it: turned into absolute bounds by the caller.
    const end = data.length - 1;
    expect((await bytesOf(await store.get('job_a/video', { start: end - 9, end }))).equals(data.subarray(end - 9))).toBe(true);
    expect(await store.get('job_missing/video')).toBeUndefined();
    await store.delete('job_a/video');
    expect(await store.get('job_a/video')).toBeUndefined();
    await store.delete('job_a/video'); // deleting twice is fine
  });

  it('refuses a body shorter or longer than announced, or one that fails, and leaves no object behind', async () => {
    const store = make();
    const data = syntheticBytes(0, 300_000);
    await expect(store.put('job_b/video', body(data), { contentType: 'video/mp4', length: data.length + 1 })).rejects.toThrow(/expected/);
    expect(await store.get('job_b/video')).toBeUndefined();
    await expect(store.put('job_b/video', body(data), { contentType: 'video/mp4', length: data.length - 1 })).rejects.toThrow(/expected/);
    expect(await store.get('job_b/video')).toBeUndefined();
    await expect(store.put('job_b/video', body(data, 131072), { contentType: 'video/mp4', length: data.length })).rejects.toThrow();
    expect(await store.get('job_b/video')).toBeUndefined();
    // An unknown length is accepted as it comes.
    expect(await store.put('job_b/thumbnail', Readable.from([Buffer.from('hello')]), { contentType: 'image/webp', length: null })).toBe(5);
    expect(await text((await store.get('job_b/thumbnail'))!)).toBe('hello');
  });
});

describe('the directory store', () => {
  it('writes owner-only files and never leaves a temporary file visible under the key', async () => {
    const root = mkdtempSync(join(tmpdir(), 'reelay-dir-'));
    const store = new DirectoryStore(join(root, 'archive'));
    await store.put('job_c/video', body(syntheticBytes(0, 1000)), { contentType: 'video/mp4', length: 1000 });
    await expect(store.put('job_c/thumbnail', body(syntheticBytes(0, 1000), 0), { contentType: 'image/webp', length: 1000 })).rejects.toThrow();
    expect(readdirSync(join(root, 'archive', 'job_c'))).toEqual(['video']);
    expect(statSync(join(root, 'archive')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'archive', 'job_c')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'archive', 'job_c', 'video')).mode & 0o777).toBe(0o600);
    await expect(store.get('../x')).rejects.toThrow();
  });
});
