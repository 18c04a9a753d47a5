import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { BalanceError } from '../../src/store/types.js';
import type { Store } from '../../src/store/store.js';
import { T0, countRows, fundedKey, ledgerOfJob, ledgerOfKey, money, newJob, submittedJob, who } from './fixtures.js';

/**
 * Many units of work at once on one key or one record. On PostgreSQL they really overlap (the
 * engines helper's pool has 10 connections); on SQLite each unit is one synchronous transaction,
 * so these check the same outcome with the units serialised.
 */
describe.each(engines)('concurrent units on $name', (engine) => {
  let os: OpenStore;
  let store: Store;
  beforeEach(async () => {
    os = await engine.open();
    store = os.store;
  });
  afterEach(async () => {
    await os.close();
  });

  it('40 concurrent holds on a balance for 10: exactly 10 placed, never overdrawn', async () => {
    const k = await fundedKey(store, 10 * 400_000);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.placeHold(newJob(k.id), who(T0 + i), { maxInflightJobs: null })));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason)).toEqual(Array(30).fill('insufficient_quota'));
    expect(await money(store, k.id)).toEqual({ balance: 4_000_000, held: 4_000_000 });
    expect(await countRows(os, 'jobs')).toBe(10);
    expect((await ledgerOfKey(os, k.id)).filter((e) => e.kind === 'hold')).toHaveLength(10);
  });

  it('40 concurrent holds with an in-flight limit of 5: exactly 5 placed', async () => {
    const k = await fundedKey(store, 1_000_000_000);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.placeHold(newJob(k.id), who(T0 + i), { maxInflightJobs: 5 })));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.reason === 'inflight_limit')).toHaveLength(35);
    expect(await countRows(os, 'jobs')).toBe(5);
    expect(await money(store, k.id)).toEqual({ balance: 1_000_000_000, held: 5 * 400_000 });
  });

  it('in-flight limit holds while other jobs of the key settle at the same time', async () => {
    const k = await fundedKey(store, 1_000_000_000);
    const open = await Promise.all(Array.from({ length: 3 }, () => submittedJob(store, k.id)));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) work.push(store.placeHold(newJob(k.id), who(), { maxInflightJobs: 5 }));
    for (const j of open) work.push(store.settleJob(j.id, { kind: 'failed', finalObject: null, errorCode: null }, who()));
    await Promise.all(work);
    const [{ n }] = await os.sql(`select count(*) as n from jobs where key_id = ? and status in ('pending','queued','in_progress')`, [k.id]);
    expect(Number(n)).toBeLessThanOrEqual(5);
    expect(Number(n)).toBeGreaterThanOrEqual(2);
    const held = await os.sql(`select coalesce(sum(held_micros), 0) as h from jobs where key_id = ? and status in ('pending','queued','in_progress')`, [k.id]);
    expect((await money(store, k.id)).held).toBe(Number(held[0].h));
  });

  it('20 concurrent settles of one job: exactly one settles, one terminal ledger entry', async () => {
    const k = await fundedKey(store, 1_000_000);
    const j = await submittedJob(store, k.id);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.settleJob(j.id, i % 2 ? { kind: 'completed', billedSeconds: 2, finalObject: '{}', completedAt: T0 } : { kind: 'expired', reason: 'race' }, who(T0 + i)),
      ),
    );
    const winners = results.filter((r) => r.settled);
    expect(winners).toHaveLength(1);
    const final = await store.getJob(j.id);
    for (const r of results) if (!r.settled) expect(r.job).toEqual(final);
    const entries = await ledgerOfJob(os, j.id);
    expect(entries.filter((e) => e.terminal)).toHaveLength(1);
    const charged = winners[0].settled ? winners[0].chargedMicros : -1;
    expect(await money(store, k.id)).toEqual({ balance: 1_000_000 - charged, held: 0 });
  });

  it('20 concurrent claims of one idempotency key: exactly one claimed, no error', async () => {
    const claim = (i: number) =>
      store.claimIdempotencyKey({ keyId: 'key_1', idemKey: 'same', route: 'POST /v1/videos', bodyHash: `h${i}`, now: T0 + i, expiredBefore: T0 - 86_400_000, instanceId: 'instance-1', deadBefore: T0 - 1 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(i)));
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    for (const r of results) if (!r.claimed) expect(r.existing.state).toBe('in_flight');
    expect(await countRows(os, 'idempotency_keys')).toBe(1);
  });

  it('20 concurrent claims taking over one expired record: exactly one claimed', async () => {
    await store.claimIdempotencyKey({ keyId: 'key_1', idemKey: 'same', route: 'r', bodyHash: 'old', now: T0, expiredBefore: 0, instanceId: 'instance-1', deadBefore: 0 });
    await store.completeIdempotencyKey('key_1', 'same', { status: 200, headers: {}, body: 'old' });
    const later = T0 + 2 * 86_400_000;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.claimIdempotencyKey({ keyId: 'key_1', idemKey: 'same', route: 'r', bodyHash: `h${i}`, now: later, expiredBefore: later - 86_400_000, instanceId: 'instance-1', deadBefore: later - 60_000 }),
      ),
    );
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    for (const r of results) if (!r.claimed) expect(r.existing).toMatchObject({ state: 'in_flight', createdAt: later });
  });

  it('concurrent claims and releases of one key never throw', async () => {
    const args = (i: number) => ({ keyId: 'key_1', idemKey: 'churn', route: 'r', bodyHash: `h${i}`, now: T0 + i, expiredBefore: 0, instanceId: 'instance-1', deadBefore: 0 });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      work.push(store.claimIdempotencyKey(args(i)));
      work.push(store.releaseIdempotencyKey('key_1', 'churn'));
    }
    await expect(Promise.all(work)).resolves.toBeDefined();
  });

  it('20 concurrent adjustments on a balance for 5: exactly 5 taken, the rest BalanceError', async () => {
    const k = await fundedKey(store, 5_000);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.appendCredit(k.id, -1_000, null, who())));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(BalanceError);
    expect(await money(store, k.id)).toEqual({ balance: 0, held: 0 });
  });

  it('holds, settles, credits and adjustments interleaved keep balance and held equal to the ledger', async () => {
    const k = await fundedKey(store, 3_000_000);
    const first = await Promise.all(Array.from({ length: 5 }, () => submittedJob(store, k.id)));
    const work: Promise<unknown>[] = [];
    first.forEach((j, i) => work.push(store.settleJob(j.id, i % 2 ? { kind: 'completed', billedSeconds: 3, finalObject: '{}', completedAt: T0 } : { kind: 'failed', finalObject: null, errorCode: null }, who())));
    for (let i = 0; i < 15; i++) work.push(store.placeHold(newJob(k.id), who(), { maxInflightJobs: null }));
    for (let i = 0; i < 5; i++) work.push(store.appendCredit(k.id, 100_000, null, who()));
    for (let i = 0; i < 5; i++) work.push(store.appendCredit(k.id, -200_000, null, who()).catch((e) => { if (!(e instanceof BalanceError)) throw e; }));
    await Promise.all(work);
    const l = await ledgerOfKey(os, k.id);
    const sum = (kinds: string[]) => l.filter((e) => kinds.includes(e.kind)).reduce((s, e) => s + e.amountMicros, 0);
    const released = await os.sql(`select coalesce(sum(held_micros), 0) as h from jobs where key_id = ? and status in ('pending','queued','in_progress')`, [k.id]);
    const m = await money(store, k.id);
    expect(m.balance).toBe(sum(['credit']) - sum(['adjustment', 'capture']));
    expect(m.held).toBe(Number(released[0].h));
    expect(m.held).toBe(sum(['hold']) - sum(['capture', 'release']));
    expect(m.balance).toBeGreaterThanOrEqual(m.held);
  });

  it('concurrent touchKeys over the same keys in different orders never deadlock', async () => {
    const keys = await Promise.all(Array.from({ length: 6 }, () => fundedKey(store, 1)));
    const work = Array.from({ length: 12 }, (_, i) => {
      const order = i % 2 ? [...keys].reverse() : keys;
      return store.touchKeys(new Map(order.map((k, j) => [k.id, T0 + i * 10 + j])));
    });
    await Promise.all(work);
    for (const k of keys) expect((await store.getKey(k.id))?.lastUsedAt).toBeGreaterThanOrEqual(T0 + 110);
  });
});
