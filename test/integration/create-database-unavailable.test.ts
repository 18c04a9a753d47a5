import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { openPgDatabase, type PgDatabase } from '../../src/db/pg/client.js';
import type { Store } from '../../src/store/store.js';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * The create path when the database goes away at each step: before the hold is written nothing
 * is forwarded (503 database_unavailable); after the upstream was called, the answer is an
 * unknown outcome that no SDK retries, never database_unavailable. The failure is a real pg
 * ECONNREFUSED (a pool on a closed port), raised from inside the store call it replaces.
 */

let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let down: PgDatabase;
let h: Harness;
let restore: (() => void) | undefined;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  down = openPgDatabase(`postgres://u:p@127.0.0.1:${port}/x`);
});

afterAll(async () => {
  await down.close();
  await upstream.close();
});

afterEach(() => {
  restore?.();
  restore = undefined;
  h?.close();
  upstream.requests.length = 0;
});

/** Makes `name` fail as a store on an unreachable server does. */
function unreachable(store: Store, name: keyof Store) {
  const original = store[name];
  (store as unknown as Record<string, unknown>)[name] = async () => {
    await down.pool.query('select 1');
  };
  restore = () => void ((store as unknown as Record<string, unknown>)[name] = original);
}

const body = { model: 'sora-2', prompt: 'a kite', seconds: '4' };

describe('a create when the database cannot be reached', () => {
  it('before the hold: 503 database_unavailable with retry-after, nothing forwarded, nothing charged', async () => {
    h = buildHarness({ upstreamUrl: upstream.url });
    const key = await h.newKey('10.00');
    unreachable(h.deps.store, 'placeHold');
    const res = await h.createJson(key.secret, body, { 'idempotency-key': 'k-1' });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await res.json()).error).toMatchObject({ code: 'database_unavailable', type: 'server_error' });
    expect(upstream.requests).toHaveLength(0);
    const k = (await h.deps.store.getKey(key.id))!;
    expect([k.balanceMicros, k.heldMicros]).toEqual([10_000_000, 0]);

    // The Idempotency-Key was let go: the same request, once the database is back, goes through.
    restore!();
    restore = undefined;
    const again = await h.createJson(key.secret, body, { 'idempotency-key': 'k-1' });
    expect(again.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
  });

  it('after the upstream accepted: an unknown outcome (x-should-retry: false), never database_unavailable', async () => {
    h = buildHarness({ upstreamUrl: upstream.url });
    const key = await h.newKey('10.00');
    unreachable(h.deps.store, 'recordSubmitted');
    const res = await h.createJson(key.secret, body, { 'idempotency-key': 'k-2' });
    const text = await res.text();
    expect(res.status, text).toBe(500);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(JSON.parse(text).error.code).toBe('internal_error');
    expect(JSON.parse(text).error.message).toMatch(/outcome is unknown/);
    expect(upstream.requests).toHaveLength(1);

    // A retry with the same key replays that answer instead of starting a second job.
    restore!();
    restore = undefined;
    const replay = await h.createJson(key.secret, body, { 'idempotency-key': 'k-2' });
    expect(replay.status).toBe(500);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(upstream.requests).toHaveLength(1);
  });
});
