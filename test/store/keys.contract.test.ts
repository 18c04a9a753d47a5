import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { BalanceError } from '../../src/store/types.js';
import type { Store } from '../../src/store/store.js';
import { T0, countRows, fundedKey, heldJob, ledgerOfKey, money, newKey, who } from './fixtures.js';

describe.each(engines)('keys store on $name', (engine) => {
  let os: OpenStore;
  let store: Store;
  beforeEach(async () => {
    os = await engine.open();
    store = os.store;
  });
  afterEach(async () => {
    await os.close();
  });

  describe('createKey', () => {
    it('writes the key with its defaults, as plain numbers, booleans and null', async () => {
      const k = newKey();
      const row = await store.createKey(k);
      expect(row).toEqual({
        ...k,
        ownerId: null,
        lastUsedAt: null,
        disabled: false,
        revokedAt: null,
        maxConcurrentDownloads: null,
        balanceMicros: 0,
        heldMicros: 0,
        webhookUrl: null,
      });
      expect(await store.getKey(k.id)).toEqual(row);
      expect(await countRows(os, 'ledger')).toBe(0);
      expect(await countRows(os, 'audit_log')).toBe(0);
    });

    it('keeps allowedModels as a string array and limits as numbers', async () => {
      const k = newKey({ allowedModels: ['sora-2', 'sora-2-pro'], rpmLimit: 60, maxInflightJobs: 3, maxConcurrentDownloads: 2, expiresAt: T0 + 5_000_000_000 });
      const row = await store.createKey(k);
      expect(row.allowedModels).toEqual(['sora-2', 'sora-2-pro']);
      expect(row.rpmLimit).toBe(60);
      expect(row.maxInflightJobs).toBe(3);
      expect(row.maxConcurrentDownloads).toBe(2);
      expect(row.expiresAt).toBe(T0 + 5_000_000_000);
      expect(await store.findKeyByHash(k.hash)).toEqual(row);
    });

    it('writes the credit and the audit entry with the key, in one unit', async () => {
      const k = newKey();
      const w = who(T0 + 5, 'admin');
      const row = await store.createKey(k, { who: w, credit: { micros: 2_500_000, note: 'welcome' }, audit: { action: 'key.create', targetId: k.id, details: { name: k.name } } });
      expect(row.balanceMicros).toBe(2_500_000);
      expect(row.heldMicros).toBe(0);
      expect(await ledgerOfKey(os, k.id)).toEqual([
        { kind: 'credit', amountMicros: 2_500_000, keyId: k.id, jobId: null, terminal: false, requestId: w.requestId, actor: 'admin', note: 'welcome', createdAt: T0 + 5 },
      ]);
      const audit = await store.searchAudit({ targetId: k.id, limit: 10 });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: 'admin', action: 'key.create', targetId: k.id, requestId: w.requestId, createdAt: T0 + 5 });
      expect(JSON.parse(audit[0].details!)).toEqual({ name: k.name });
    });

    it('a credit of zero writes no ledger entry', async () => {
      const k = newKey();
      await store.createKey(k, { who: who(), credit: { micros: 0, note: null } });
      expect(await countRows(os, 'ledger')).toBe(0);
    });

    it('a refused credit throws BalanceError and writes nothing: no key, no ledger, no audit', async () => {
      for (const micros of [-1, 1.5, Number.MAX_SAFE_INTEGER + 10]) {
        const k = newKey();
        await expect(store.createKey(k, { who: who(), credit: { micros, note: null }, audit: { action: 'key.create', targetId: k.id, details: null } })).rejects.toBeInstanceOf(BalanceError);
        expect(await store.getKey(k.id)).toBeUndefined();
      }
      expect(await countRows(os, 'api_keys')).toBe(0);
      expect(await countRows(os, 'ledger')).toBe(0);
      expect(await countRows(os, 'audit_log')).toBe(0);
    });

    it('a second key with the same id or hash is refused', async () => {
      const k = newKey();
      await store.createKey(k);
      await expect(store.createKey({ ...k, hash: 'other' })).rejects.toThrow();
      await expect(store.createKey({ ...newKey(), hash: k.hash })).rejects.toThrow();
      expect(await countRows(os, 'api_keys')).toBe(1);
    });
  });

  describe('lookups', () => {
    it('find by hash, for auth, and by id; unknown gives undefined', async () => {
      const row = await fundedKey(store, 1000);
      expect(await store.findKeyByHash(row.hash)).toEqual(row);
      expect(await store.findKeyForAuth(row.hash)).toEqual(row);
      expect(await store.getKey(row.id)).toEqual(row);
      expect(await store.findKeyByHash('nope')).toBeUndefined();
      expect(await store.findKeyForAuth('nope')).toBeUndefined();
      expect(await store.getKey('nope')).toBeUndefined();
    });

    it('listKeys pages by id in byte order', async () => {
      const ids = ['key_b', 'key_A', 'key_a', 'key_B', 'key_0'];
      for (const id of ids) await store.createKey(newKey({ id }));
      const all = (await store.listKeys({ limit: 10 })).map((k) => k.id);
      expect(all).toEqual(['key_0', 'key_A', 'key_B', 'key_a', 'key_b']);
      expect((await store.listKeys({ limit: 2 })).map((k) => k.id)).toEqual(['key_0', 'key_A']);
      expect((await store.listKeys({ after: 'key_A', limit: 2 })).map((k) => k.id)).toEqual(['key_B', 'key_a']);
      expect(await store.listKeys({ after: 'key_b', limit: 2 })).toEqual([]);
    });

    it('listKeyNames orders by name (bytes) then id, with revokedAt', async () => {
      await store.createKey(newKey({ id: 'key_2', name: 'beta' }));
      await store.createKey(newKey({ id: 'key_1', name: 'Zed' }));
      await store.createKey(newKey({ id: 'key_3', name: 'beta' }));
      await store.revokeKey('key_3', T0 + 9);
      expect(await store.listKeyNames()).toEqual([
        { id: 'key_1', name: 'Zed', revokedAt: null },
        { id: 'key_2', name: 'beta', revokedAt: null },
        { id: 'key_3', name: 'beta', revokedAt: T0 + 9 },
      ]);
    });
  });

  describe('searchKeys', () => {
    async function seed() {
      await store.createKey(newKey({ id: 'key_aa', name: 'Production 100%', createdAt: T0 + 1 }), { who: who(), credit: { micros: 5_000, note: null } });
      await store.createKey(newKey({ id: 'key_ab', name: 'staging', createdAt: T0 + 2 }), { who: who(), credit: { micros: 50, note: null } });
      await store.createKey(newKey({ id: 'key_ba', name: 'prod_b', createdAt: T0 + 3 }), { who: who(), credit: { micros: 500, note: null } });
      await store.createKey(newKey({ id: 'key_bb', name: 'old', createdAt: T0 + 4 }));
      await store.revokeKey('key_bb', T0 + 5);
      await store.touchKeys(new Map([['key_ab', T0 + 100], ['key_aa', T0 + 50]]));
    }
    const ids = (r: { rows: { id: string }[] }) => r.rows.map((k) => k.id);

    it('searches names case-insensitively and ids by prefix, with % and _ literal', async () => {
      await seed();
      const base = { sort: 'name' as const, dir: 'asc' as const, offset: 0, limit: 10 };
      expect(ids(await store.searchKeys({ ...base, q: 'PROD' }))).toEqual(['key_aa', 'key_ba']);
      expect(ids(await store.searchKeys({ ...base, q: '100%' }))).toEqual(['key_aa']);
      expect(ids(await store.searchKeys({ ...base, q: 'prod_' }))).toEqual(['key_ba']);
      expect(ids(await store.searchKeys({ ...base, q: 'key_b' }))).toEqual(['key_bb', 'key_ba']);
      expect(ids(await store.searchKeys({ ...base, q: 'ey_b' }))).toEqual([]);
      expect((await store.searchKeys({ ...base, q: 'prod' })).total).toBe(2);
    });

    it('sorts by each column, pages with offset and counts the total', async () => {
      await seed();
      const q = { offset: 0, limit: 10 };
      expect(ids(await store.searchKeys({ ...q, sort: 'name', dir: 'asc' }))).toEqual(['key_aa', 'key_bb', 'key_ba', 'key_ab']);
      expect(ids(await store.searchKeys({ ...q, sort: 'created', dir: 'desc' }))).toEqual(['key_bb', 'key_ba', 'key_ab', 'key_aa']);
      expect(ids(await store.searchKeys({ ...q, sort: 'available', dir: 'desc' }))).toEqual(['key_aa', 'key_ba', 'key_ab', 'key_bb']);
      expect(ids(await store.searchKeys({ ...q, sort: 'last_used', dir: 'desc' }))).toEqual(['key_ab', 'key_aa', 'key_ba', 'key_bb']);
      expect(ids(await store.searchKeys({ ...q, sort: 'last_used', dir: 'asc' }))).toEqual(['key_aa', 'key_ab', 'key_ba', 'key_bb']);
      const page = await store.searchKeys({ sort: 'created', dir: 'asc', offset: 1, limit: 2 });
      expect(ids(page)).toEqual(['key_ab', 'key_ba']);
      expect(page.total).toBe(4);
      expect(typeof page.total).toBe('number');
    });

    it('lowBelow lists usable keys whose available balance is below the amount', async () => {
      await seed();
      await store.createKey(newKey({ id: 'key_ex', expiresAt: T0 + 10 }));
      await store.createKey(newKey({ id: 'key_di' }));
      await store.updateKey('key_di', { disabled: true });
      await heldJob(store, 'key_aa', { heldMicros: 4_800 });
      const r = await store.searchKeys({ sort: 'available', dir: 'asc', offset: 0, limit: 10, lowBelow: { micros: 1_000, now: T0 + 20 } });
      expect(ids(r)).toEqual(['key_ab', 'key_aa', 'key_ba']);
      expect(r.total).toBe(3);
    });
  });

  describe('keyHeadroom', () => {
    it('gives available balance and open jobs as numbers, read fresh', async () => {
      const k = await fundedKey(store, 1_000_000);
      await heldJob(store, k.id, { heldMicros: 300_000 });
      const j2 = await heldJob(store, k.id, { heldMicros: 100_000 });
      await store.settleJob(j2.id, { kind: 'failed', finalObject: null, errorCode: 'x' }, who());
      expect(await store.keyHeadroom(k.id, true)).toEqual({ availableMicros: 700_000, openJobs: 1 });
      expect(await store.keyHeadroom(k.id, false)).toEqual({ availableMicros: 700_000, openJobs: 0 });
      expect(await store.keyHeadroom('nope', true)).toEqual({ availableMicros: 0, openJobs: 0 });
    });
  });

  describe('updateKey', () => {
    it('changes the fields given and writes the audit entry with them', async () => {
      const k = await fundedKey(store, 10);
      const w = who(T0 + 7, 'admin');
      const row = await store.updateKey(k.id, { name: 'renamed', disabled: true, allowedModels: ['sora-2'], rpmLimit: 5, maxInflightJobs: null, expiresAt: T0 + 99 }, { who: w, entry: { action: 'key.update', targetId: k.id, details: { name: 'renamed' } } });
      expect(row).toEqual({ ...k, name: 'renamed', disabled: true, allowedModels: ['sora-2'], rpmLimit: 5, maxInflightJobs: null, expiresAt: T0 + 99 });
      expect(await store.getKey(k.id)).toEqual(row);
      const audit = await store.listAudit({ limit: 10 });
      expect(audit.map((a) => [a.action, a.targetId, a.actor, a.requestId])).toEqual([['key.update', k.id, 'admin', w.requestId]]);
      // back to null
      expect((await store.updateKey(k.id, { allowedModels: null, disabled: false }))?.allowedModels).toBeNull();
    });

    it('an empty patch returns the row; an unknown key gives undefined and no audit', async () => {
      const k = await fundedKey(store, 10);
      expect(await store.updateKey(k.id, {})).toEqual(k);
      expect(await store.updateKey('nope', { name: 'x' }, { who: who(), entry: { action: 'key.update', targetId: 'nope', details: null } })).toBeUndefined();
      expect(await countRows(os, 'audit_log')).toBe(0);
    });
  });

  describe('revokeKey', () => {
    it('revokes once, keeps the first time, and audits each call on a known key', async () => {
      const k = await fundedKey(store, 10);
      const audit = (t: number) => ({ who: who(t), entry: { action: 'key.revoke', targetId: k.id, details: null } });
      expect((await store.revokeKey(k.id, T0 + 1, audit(T0 + 1)))?.revokedAt).toBe(T0 + 1);
      expect((await store.revokeKey(k.id, T0 + 2, audit(T0 + 2)))?.revokedAt).toBe(T0 + 1);
      expect(await store.revokeKey('nope', T0 + 3, { who: who(), entry: { action: 'key.revoke', targetId: 'nope', details: null } })).toBeUndefined();
      const rows = await store.listAudit({ limit: 10 });
      expect(rows.map((r) => [r.action, r.createdAt, r.details])).toEqual([
        ['key.revoke', T0 + 2, 'null'],
        ['key.revoke', T0 + 1, 'null'],
      ]);
    });
  });

  describe('touchKeys', () => {
    it('writes last-use times in a batch and never moves one back', async () => {
      const a = await fundedKey(store, 1);
      const b = await fundedKey(store, 1);
      await store.touchKeys(new Map());
      await store.touchKeys(new Map([[a.id, T0 + 10], [b.id, T0 + 20], ['nope', T0]]));
      expect((await store.getKey(a.id))?.lastUsedAt).toBe(T0 + 10);
      expect((await store.getKey(b.id))?.lastUsedAt).toBe(T0 + 20);
      await store.touchKeys(new Map([[a.id, T0 + 5], [b.id, T0 + 30]]));
      expect((await store.getKey(a.id))?.lastUsedAt).toBe(T0 + 10);
      expect((await store.getKey(b.id))?.lastUsedAt).toBe(T0 + 30);
      expect(await money(store, a.id)).toEqual({ balance: 1, held: 0 });
    });
  });
});
