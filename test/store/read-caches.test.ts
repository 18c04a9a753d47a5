/**
 * The read-cache decorator (src/store/read-caches.ts) over both engines: the two per-request reads
 * are served from memory for at most a second, this process's own changes are seen at once, and
 * another instance's changes within the stated bound.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { withReadCaches, KEY_AUTH_CACHE_MS, JOB_ROW_CACHE_MS } from '../../src/store/read-caches.js';
import type { Store } from '../../src/store/store.js';
import { T0, fundedKey, submittedJob, who } from './fixtures.js';

describe.each(engines)('read caches over $name', (engine) => {
  let os: OpenStore;
  let cached: Store;
  let clock = 0;
  /** Queries the decorated store's findKeyForAuth/getJobForRequest reached the engine with. */
  let reads: string[];

  beforeEach(async () => {
    os = await engine.open();
    clock = 0;
    reads = [];
    const counting: Store = {
      ...os.store,
      findKeyForAuth: (hash) => (reads.push(`key:${hash}`), os.store.findKeyByHash(hash)),
      getJobForRequest: (keyId, videoId) => (reads.push(`job:${videoId}`), os.store.getJobByVideoId(videoId, keyId)),
    };
    cached = withReadCaches(counting, () => clock);
  });
  afterEach(async () => os.close());

  it('serves a key and a job from memory within the bound, and reads again after it', async () => {
    const key = await fundedKey(os.store, 1_000_000);
    const job = await submittedJob(os.store, key.id);
    for (let i = 0; i < 5; i++) {
      expect((await cached.findKeyForAuth(key.hash))?.id).toBe(key.id);
      expect((await cached.getJobForRequest(key.id, job.videoId!))?.id).toBe(job.id);
    }
    expect(reads).toEqual([`key:${key.hash}`, `job:${job.videoId}`]);
    clock += Math.max(KEY_AUTH_CACHE_MS, JOB_ROW_CACHE_MS);
    await cached.findKeyForAuth(key.hash);
    await cached.getJobForRequest(key.id, job.videoId!);
    expect(reads).toHaveLength(4);
  });

  it('sees this process’s own changes at once', async () => {
    const key = await fundedKey(os.store, 1_000_000);
    const job = await submittedJob(os.store, key.id);
    await cached.findKeyForAuth(key.hash);
    await cached.getJobForRequest(key.id, job.videoId!);
    await cached.revokeKey(key.id, T0 + 5);
    expect((await cached.findKeyForAuth(key.hash))?.revokedAt).toBe(T0 + 5);
    await cached.settleJob(job.id, { kind: 'failed', finalObject: null, errorCode: 'x' }, who(T0 + 6));
    expect((await cached.getJobForRequest(key.id, job.videoId!))?.status).toBe('failed');
  });

  it('sees another instance’s changes within the bound, and never caches an unknown key', async () => {
    const key = await fundedKey(os.store, 1_000_000);
    const job = await submittedJob(os.store, key.id);
    expect(await cached.findKeyForAuth('hash_of_a_key_made_later')).toBeUndefined();
    await fundedKey(os.store, 0, { id: 'key_later', hash: 'hash_of_a_key_made_later' });
    expect((await cached.findKeyForAuth('hash_of_a_key_made_later'))?.id).toBe('key_later');

    await cached.findKeyForAuth(key.hash);
    await cached.getJobForRequest(key.id, job.videoId!);
    // Another instance (the uncached store) revokes the key and settles the job.
    await os.store.revokeKey(key.id, T0 + 7);
    await os.store.settleJob(job.id, { kind: 'failed', finalObject: null, errorCode: 'x' }, who(T0 + 8));
    clock += Math.max(KEY_AUTH_CACHE_MS, JOB_ROW_CACHE_MS) - 1;
    expect((await cached.findKeyForAuth(key.hash))?.revokedAt).toBeNull(); // still within the bound
    clock += 1;
    expect((await cached.findKeyForAuth(key.hash))?.revokedAt).toBe(T0 + 7);
    expect((await cached.getJobForRequest(key.id, job.videoId!))?.status).toBe('failed');
  });
});
