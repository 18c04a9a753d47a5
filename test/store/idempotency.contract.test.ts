import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import { T0, countRows } from './fixtures.js';

const DAY = 24 * 3600_000;

describe.each(engines)('idempotency store on $name', (engine) => {
  let os: OpenStore;
  let store: Store;
  beforeEach(async () => {
    os = await engine.open();
    store = os.store;
  });
  afterEach(async () => {
    await os.close();
  });

  /** A claim by `instanceId` (default: one live instance) at `now` with a 24 h replay window. */
  const claim = (now: number, over: { keyId?: string; idemKey?: string; bodyHash?: string; instanceId?: string } = {}) =>
    store.claimIdempotencyKey({
      keyId: over.keyId ?? 'key_1',
      idemKey: over.idemKey ?? 'idem-1',
      route: 'POST /v1/videos',
      bodyHash: over.bodyHash ?? 'h1',
      now,
      expiredBefore: now - DAY,
      instanceId: over.instanceId ?? 'instance-a',
      deadBefore: now - 30_000,
    });
  const beat = (id: string, at: number) => store.heartbeat({ id, host: 'h', pid: 1, version: 'v', startedAt: T0 }, at);

  it('claims a free key once; a second claim sees the in-flight record', async () => {
    expect(await claim(T0)).toEqual({ claimed: true });
    expect(await claim(T0 + 5, { bodyHash: 'h2' })).toEqual({
      claimed: false,
      existing: { keyId: 'key_1', idemKey: 'idem-1', route: 'POST /v1/videos', bodyHash: 'h1', state: 'in_flight', responseStatus: null, responseHeaders: null, responseBody: null, createdAt: T0, instanceId: 'instance-a' },
    });
    // scoped per API key and per idempotency key
    expect(await claim(T0 + 5, { keyId: 'key_2' })).toEqual({ claimed: true });
    expect(await claim(T0 + 5, { idemKey: 'idem-2' })).toEqual({ claimed: true });
  });

  it('a completed record replays its response', async () => {
    await claim(T0);
    await store.completeIdempotencyKey('key_1', 'idem-1', { status: 200, headers: { 'content-type': 'application/json' }, body: '{"id":"video_1"}' });
    const r = await claim(T0 + 1000);
    expect(r).toEqual({
      claimed: false,
      existing: { keyId: 'key_1', idemKey: 'idem-1', route: 'POST /v1/videos', bodyHash: 'h1', state: 'done', responseStatus: 200, responseHeaders: '{"content-type":"application/json"}', responseBody: '{"id":"video_1"}', createdAt: T0, instanceId: 'instance-a' },
    });
  });

  it('an expired record is replaced by a new claim', async () => {
    await claim(T0);
    await store.completeIdempotencyKey('key_1', 'idem-1', { status: 200, headers: {}, body: 'old' });
    expect(await claim(T0 + DAY)).toMatchObject({ claimed: false }); // created_at == expiredBefore: still live
    expect(await claim(T0 + DAY + 1, { bodyHash: 'h9' })).toEqual({ claimed: true });
    expect(await claim(T0 + DAY + 2)).toEqual({
      claimed: false,
      existing: { keyId: 'key_1', idemKey: 'idem-1', route: 'POST /v1/videos', bodyHash: 'h9', state: 'in_flight', responseStatus: null, responseHeaders: null, responseBody: null, createdAt: T0 + DAY + 1, instanceId: 'instance-a' },
    });
    expect(await countRows(os, 'idempotency_keys')).toBe(1);
  });

  it('an in-flight record of a dead instance is taken over; of a live one, or a done one, not', async () => {
    await beat('instance-a', T0);
    await beat('instance-b', T0);
    await claim(T0);
    await claim(T0, { idemKey: 'idem-done' });
    await store.completeIdempotencyKey('key_1', 'idem-done', { status: 201, headers: {}, body: 'b' });
    // instance-a is alive (heartbeat within 30 s): neither b nor a itself can take the claim
    expect(await claim(T0 + 10_000, { instanceId: 'instance-b' })).toMatchObject({ claimed: false, existing: { instanceId: 'instance-a' } });
    expect(await claim(T0 + 10_000)).toMatchObject({ claimed: false });
    // 31 s without a heartbeat from instance-a: dead, so b takes the claim over, told that it was
    // abandoned in flight (that request may have reached the upstream)
    await beat('instance-b', T0 + 31_000);
    expect(await claim(T0 + 31_000, { instanceId: 'instance-b', bodyHash: 'h2' })).toEqual({ claimed: true, abandoned: true });
    expect(await claim(T0 + 31_001, { instanceId: 'instance-b' })).toMatchObject({ claimed: false, existing: { instanceId: 'instance-b', bodyHash: 'h2' } });
    // a done record is replayed whoever asks
    expect(await claim(T0 + 31_000, { idemKey: 'idem-done', instanceId: 'instance-b' })).toMatchObject({ claimed: false, existing: { state: 'done', responseStatus: 201 } });
  });

  it('a late answer from the instance whose claim was taken over neither overwrites nor frees it', async () => {
    await beat('instance-a', T0);
    await claim(T0);
    await beat('instance-b', T0 + 31_000);
    expect(await claim(T0 + 31_000, { instanceId: 'instance-b', bodyHash: 'h2' })).toEqual({ claimed: true, abandoned: true });
    // instance-a was only slow, not dead: its answer arrives now
    await store.completeIdempotencyKey('key_1', 'idem-1', { status: 200, headers: {}, body: 'late' }, 'instance-a');
    await store.releaseIdempotencyKey('key_1', 'idem-1', 'instance-a');
    expect(await claim(T0 + 31_001, { instanceId: 'instance-b' })).toMatchObject({ claimed: false, existing: { state: 'in_flight', bodyHash: 'h2', instanceId: 'instance-b' } });
    // the holder's own answer is recorded, and then replayed whoever asks
    await store.completeIdempotencyKey('key_1', 'idem-1', { status: 200, headers: {}, body: 'mine' }, 'instance-b');
    await store.releaseIdempotencyKey('key_1', 'idem-1', 'instance-b'); // a done record is no claim to free
    expect(await claim(T0 + 31_002, { instanceId: 'instance-a' })).toMatchObject({ claimed: false, existing: { state: 'done', responseBody: 'mine' } });
  });

  it('an in-flight record of a stopped or unknown instance is taken over at once', async () => {
    await beat('instance-a', T0);
    await claim(T0);
    await store.markInstanceStopped('instance-a', T0 + 1);
    expect(await claim(T0 + 2, { instanceId: 'instance-b' })).toEqual({ claimed: true, abandoned: true });
    await claim(T0, { idemKey: 'idem-ghost', instanceId: 'never-registered' });
    expect(await claim(T0 + 2, { idemKey: 'idem-ghost', instanceId: 'instance-b' })).toEqual({ claimed: true, abandoned: true });
  });

  it('release frees the key; hasIdempotencyRecord sees live records since a time', async () => {
    await claim(T0);
    expect(await store.hasIdempotencyRecord('key_1', 'idem-1', T0)).toBe(true);
    expect(await store.hasIdempotencyRecord('key_1', 'idem-1', T0 + 1)).toBe(false);
    expect(await store.hasIdempotencyRecord('key_1', 'idem-x', 0)).toBe(false);
    await store.releaseIdempotencyKey('key_1', 'idem-1');
    expect(await store.hasIdempotencyRecord('key_1', 'idem-1', 0)).toBe(false);
    expect(await claim(T0 + 1)).toEqual({ claimed: true });
    await store.releaseIdempotencyKey('key_1', 'nothing-here');
  });

  it('purge deletes records older than a time and says how many', async () => {
    await claim(T0, { idemKey: 'a' });
    await claim(T0 + 1, { idemKey: 'b' });
    await claim(T0 + 2, { idemKey: 'c' });
    expect(await store.purgeIdempotencyKeys(T0 + 2)).toBe(2);
    expect(await store.purgeIdempotencyKeys(T0 + 2)).toBe(0);
    expect(await store.hasIdempotencyRecord('key_1', 'c', 0)).toBe(true);
  });
});
