import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHarness, allPages, conforms, expectBadParam, seedJob, seedKey, type AdminHarness } from './admin-fixtures.js';
import { ledgerEntrySchema } from '../../src/admin/openapi.js';
import type { KeyRow } from '../../src/db/keys-store.js';
import type { JobRow } from '../../src/db/billing-store.js';

const T0 = Date.UTC(2026, 10, 1);
const CREDIT_AT = Date.UTC(2026, 0, 1);

let h: AdminHarness;
let alice: KeyRow;
let bob: KeyRow;
let done: JobRow;
let failed: JobRow;

beforeAll(async () => {
  h = adminHarness();
  alice = await seedKey(h.deps, 'alice', '20.00', CREDIT_AT);
  bob = await seedKey(h.deps, 'bob', '5.00', CREDIT_AT);
  done = await seedJob(h.deps, alice, { at: T0, outcome: 'completed', seconds: 8, billedSeconds: 8 });
  failed = await seedJob(h.deps, bob, { at: T0 + 3600_000, outcome: 'failed', seconds: 4 });
  await h.deps.store.appendCredit(alice.id, -2_000_000, 'goodwill reversal', { actor: 'admin', requestId: 'req_adj', now: T0 + 7200_000 });
});
afterAll(() => h.close());

type Entry = { id: string; kind: string; amount_usd: string; key_id: string; job_id: string | null; video_id: string | null };
const kinds = (list: { data: Entry[] }) => list.data.map((e) => `${e.kind}:${e.amount_usd}`);

describe('GET /admin/ledger', () => {
  it('lists every entry newest first, amounts positive with the kind giving the direction', async () => {
    const list = await h.json<{ data: Entry[]; has_more: boolean }>('/admin/ledger');
    list.data.forEach((e) => conforms(ledgerEntrySchema, e));
    expect(list.has_more).toBe(false);
    expect(kinds(list)).toEqual(['adjustment:2.000000', 'release:0.400000', 'hold:0.400000', 'capture:0.800000', 'hold:0.800000', 'credit:5.000000', 'credit:20.000000']);
    expect(list.data[3]).toMatchObject({ key_id: alice.id, job_id: done.id, video_id: done.videoId, actor: `key:${alice.id}`, request_id: done.requestId });
    expect(list.data[0]).toMatchObject({ job_id: null, video_id: null, actor: 'admin', note: 'goodwill reversal', created_at: new Date(T0 + 7200_000).toISOString() });
  });

  it('filters by key and by job, given its video id or its internal id', async () => {
    expect(kinds(await h.json(`/admin/ledger?key_id=${bob.id}`))).toEqual(['release:0.400000', 'hold:0.400000', 'credit:5.000000']);
    expect(kinds(await h.json(`/admin/ledger?job_id=${done.videoId}`))).toEqual(['capture:0.800000', 'hold:0.800000']);
    expect(kinds(await h.json(`/admin/ledger?job_id=${done.id}&order=asc`))).toEqual(['hold:0.800000', 'capture:0.800000']);
    expect(kinds(await h.json(`/admin/ledger?job_id=${failed.videoId}&key_id=${alice.id}`))).toEqual([]);
    expect(kinds(await h.json('/admin/ledger?job_id=video_unknown'))).toEqual([]);
  });

  it('filters by time, from inclusive and to exclusive', async () => {
    expect(kinds(await h.json('/admin/ledger?from=2026-11-01&to=2026-11-01T01:00:00Z'))).toEqual(['capture:0.800000', 'hold:0.800000']);
    expect(kinds(await h.json(`/admin/ledger?from=${encodeURIComponent(new Date(T0 + 3600_000).toISOString())}`))).toEqual([
      'adjustment:2.000000',
      'release:0.400000',
      'hold:0.400000',
    ]);
    expect(kinds(await h.json('/admin/ledger?to=2026-01-02'))).toEqual(['credit:5.000000', 'credit:20.000000']);
  });

  it('pages through many entries without duplicates or gaps, both ways', async () => {
    const key = await seedKey(h.deps, 'busy', '1000.00');
    for (let i = 0; i < 60; i++) await seedJob(h.deps, key, { at: T0 + 10 * 3600_000, outcome: i % 2 ? 'completed' : 'failed' });
    const everything = (await h.json<{ data: Entry[] }>(`/admin/ledger?key_id=${key.id}&limit=1000`)).data.map((e) => e.id);
    expect(everything).toHaveLength(1 + 60 * 2);
    const desc = await allPages<Entry>(h, `/admin/ledger?key_id=${key.id}`, 11);
    expect(desc.items.map((e) => e.id)).toEqual(everything);
    const asc = await allPages<Entry>(h, `/admin/ledger?key_id=${key.id}&order=asc`, 25);
    expect(asc.items.map((e) => e.id)).toEqual([...everything].reverse());
  });

  it('refuses bad filters with a 400 naming the parameter', async () => {
    await expectBadParam(await h.call('/admin/ledger?from=2026-11-01T25:00:00Z'), 'from');
    await expectBadParam(await h.call('/admin/ledger?to=next-week'), 'to');
    await expectBadParam(await h.call('/admin/ledger?from=2026-11-02&to=2026-11-02'), 'to');
    await expectBadParam(await h.call('/admin/ledger?limit=-5'), 'limit');
    await expectBadParam(await h.call('/admin/ledger?after=led_unknown'), 'after');
    await expectBadParam(await h.call('/admin/ledger?job_id='), 'job_id');
    await expectBadParam(await h.call('/admin/ledger?kind=capture'), 'kind');
  });
});
