import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import { T0, fundedKey } from './fixtures.js';

describe.each(engines)('audit and characters stores on $name', (engine) => {
  let os: OpenStore;
  let store: Store;
  beforeEach(async () => {
    os = await engine.open();
    store = os.store;
  });
  afterEach(async () => {
    await os.close();
  });

  describe('audit', () => {
    async function seed() {
      const e = (action: string, targetId: string | null, now: number, details: unknown) => store.appendAudit({ actor: 'admin', action, targetId, requestId: `req_${now}`, details, now });
      await e('key.create', 'key_1', T0, { name: 'a' });
      await e('key.update', 'key_1', T0 + 10, undefined);
      await e('Pricing.reload', null, T0 + 20, null);
      await e('key.create', 'key_2', T0 + 30, ['x', 1]);
    }

    it('appends entries and lists them newest first, paged by seq', async () => {
      await seed();
      const all = await store.listAudit({ limit: 10 });
      expect(all.map((a) => [a.action, a.targetId, a.details, a.createdAt, a.requestId])).toEqual([
        ['key.create', 'key_2', '["x",1]', T0 + 30, `req_${T0 + 30}`],
        ['Pricing.reload', null, 'null', T0 + 20, `req_${T0 + 20}`],
        ['key.update', 'key_1', null, T0 + 10, `req_${T0 + 10}`],
        ['key.create', 'key_1', '{"name":"a"}', T0, `req_${T0}`],
      ]);
      for (const a of all) {
        expect(typeof a.seq).toBe('number');
        expect(a.id).toMatch(/^aud_/);
        expect(a.actor).toBe('admin');
      }
      const page = await store.listAudit({ beforeSeq: all[1].seq, limit: 1 });
      expect(page).toEqual([all[2]]);
      expect(await store.auditSeqOf(all[1].id)).toBe(all[1].seq);
      expect(await store.auditSeqOf('aud_nope')).toBeUndefined();
    });

    it('lists the distinct actions in byte order', async () => {
      expect(await store.auditActions()).toEqual([]);
      await seed();
      expect(await store.auditActions()).toEqual(['Pricing.reload', 'key.create', 'key.update']);
    });

    it('searches by target, action and time range, newest first', async () => {
      await seed();
      const s = async (q: Parameters<Store['searchAudit']>[0]) => (await store.searchAudit(q)).map((a) => a.createdAt);
      expect(await s({ targetId: 'key_1', limit: 10 })).toEqual([T0 + 10, T0]);
      expect(await s({ action: 'key.create', limit: 10 })).toEqual([T0 + 30, T0]);
      expect(await s({ from: T0 + 10, to: T0 + 30, limit: 10 })).toEqual([T0 + 20, T0 + 10]);
      expect(await s({ action: 'key.create', limit: 1 })).toEqual([T0 + 30]);
      const all = await store.listAudit({ limit: 10 });
      expect(await s({ beforeSeq: all[0].seq, action: 'key.create', limit: 10 })).toEqual([T0]);
      expect(await s({ targetId: 'nobody', limit: 10 })).toEqual([]);
    });
  });

  describe('characters', () => {
    it('records a character once and reads it back', async () => {
      const k = await fundedKey(store, 0);
      const c = { id: 'char_1', keyId: k.id, requestId: 'req_1', upstreamId: 'acct-b', createdAt: T0 };
      await store.recordCharacter(c);
      await store.recordCharacter({ id: 'char_2', keyId: k.id, requestId: 'req_3', createdAt: T0 });
      expect((await store.getCharacter('char_2'))?.upstreamId).toBe('default');
      await store.recordCharacter({ ...c, requestId: 'req_2', createdAt: T0 + 1 });
      expect(await store.getCharacter('char_1')).toEqual(c);
      expect(await store.getCharacter('char_nope')).toBeUndefined();
    });

    it('character ids are unique per upstream: the same id from two providers, each key reads its own', async () => {
      const k1 = await fundedKey(store, 0);
      const k2 = await fundedKey(store, 0);
      await store.recordCharacter({ id: 'char_same', keyId: k1.id, requestId: 'req_1', upstreamId: 'acct-a', createdAt: T0 });
      await store.recordCharacter({ id: 'char_same', keyId: k2.id, requestId: 'req_2', upstreamId: 'acct-b', createdAt: T0 + 1 });
      expect(await store.getCharacter('char_same', k1.id)).toMatchObject({ keyId: k1.id, upstreamId: 'acct-a' });
      expect(await store.getCharacter('char_same', k2.id)).toMatchObject({ keyId: k2.id, upstreamId: 'acct-b' });
    });
  });
});
