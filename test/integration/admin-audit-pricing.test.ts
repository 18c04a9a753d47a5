import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHarness, allPages, conforms, expectBadParam, type AdminHarness } from './admin-fixtures.js';
import { auditEntrySchema, pricingModelSchema } from '../../src/admin/openapi.js';

let h: AdminHarness;
beforeAll(() => {
  h = adminHarness({ flatModel: true });
});
afterAll(() => h.close());

type Audit = { id: string; actor: string; action: string; target_id: string | null; request_id: string | null; details: any; created_at: string };

describe('GET /admin/pricing', () => {
  it('shows the effective catalog: built-in per-second models and PRICING_FILE additions, USD as strings', async () => {
    const list = await h.json<{ data: unknown[]; has_more: boolean }>('/admin/pricing');
    expect(list.has_more).toBe(false);
    const models = list.data.map((m) => conforms(pricingModelSchema, m));
    expect(models.map((m) => m.model)).toEqual(['flat-1', 'sora-2', 'sora-2-pro']);
    expect(models[1]).toEqual({
      model: 'sora-2',
      pricing: 'per_second',
      sizes: ['720x1280', '1280x720'],
      seconds: [4, 8, 12],
      default_seconds: 4,
      default_size: '720x1280',
      extension_seconds: [4, 8, 12, 16, 20],
      per_second_usd: { '720x1280': '0.100000', '1280x720': '0.100000' },
      per_request_usd: null,
    });
    expect(models[2]!.per_second_usd).toMatchObject({ '1024x1792': '0.500000', '1920x1080': '0.700000' });
    expect(models[0]).toMatchObject({ pricing: 'per_request', per_request_usd: '0.250000', per_second_usd: null, sizes: ['720x1280'], seconds: [4, 8] });
  });
});

describe('GET /admin/audit', () => {
  it('records every admin change with actor, time, request id and what changed, newest first', async () => {
    const created = await h.call('/admin/keys', { method: 'POST', body: { name: 'audited', credit_usd: '5.00' }, headers: { 'x-request-id': 'audit-create' } });
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string };
    expect((await h.call(`/admin/keys/${key.id}`, { method: 'PATCH', body: { rpm_limit: 60, disabled: true } })).status).toBe(200);
    expect((await h.call(`/admin/keys/${key.id}/credits`, { method: 'POST', body: { amount_usd: '2.50', note: 'top-up' } })).status).toBe(201);
    expect((await h.call(`/admin/keys/${key.id}/credits`, { method: 'POST', body: { amount_usd: '-1.00' } })).status).toBe(201);
    expect((await h.call(`/admin/keys/${key.id}`, { method: 'DELETE' })).status).toBe(200);

    const list = await h.json<{ data: Audit[] }>(`/admin/audit?target_id=${key.id}`);
    const entries = list.data.map((e) => conforms(auditEntrySchema, e));
    expect(entries.map((e) => e.action)).toEqual(['key.revoke', 'key.adjust', 'key.credit', 'key.update', 'key.create']);
    expect(entries.every((e) => e.actor === 'admin' && e.target_id === key.id && /^\d{4}-\d\d-\d\dT.*Z$/.test(e.created_at))).toBe(true);
    expect(entries[4]).toMatchObject({ request_id: 'audit-create', details: { name: 'audited', credit_usd: '5.000000' } });
    expect(entries[3]!.details).toMatchObject({ rpm_limit: 60, disabled: true });
    expect(entries[2]!.details).toEqual({ amount_usd: '2.500000', note: 'top-up' });
    expect(entries[1]!.details).toEqual({ amount_usd: '-1.000000', note: null });
    expect((await h.json<{ data: Audit[] }>('/admin/audit?action=key.credit')).data.map((e) => e.target_id)).toEqual([key.id]);
  });

  it('does not audit reads or refused changes', async () => {
    const before = (await h.json<{ data: Audit[] }>('/admin/audit?limit=1000')).data.length;
    await h.call('/admin/keys');
    await h.call('/admin/jobs');
    await h.call('/admin/keys', { method: 'POST', body: { name: '' } });
    expect((await h.json<{ data: Audit[] }>('/admin/audit?limit=1000')).data.length).toBe(before);
  });

  it('pages through the trail without duplicates or gaps', async () => {
    for (let i = 0; i < 23; i++) expect((await h.call('/admin/keys', { method: 'POST', body: { name: `bulk-${i}` } })).status).toBe(201);
    const all = (await h.json<{ data: Audit[] }>('/admin/audit?limit=1000')).data.map((e) => e.id);
    const { items, pages } = await allPages<Audit>(h, '/admin/audit', 4);
    expect(pages).toBe(Math.ceil(all.length / 4));
    expect(items.map((e) => e.id)).toEqual(all);
    const creates = await allPages<Audit>(h, '/admin/audit?action=key.create', 5);
    expect(creates.items.filter((e) => (e.details as { name: string }).name.startsWith('bulk-')).map((e) => e.details.name)).toEqual(
      Array.from({ length: 23 }, (_, i) => `bulk-${22 - i}`),
    );
  });

  it('refuses bad parameters with a 400 naming the parameter', async () => {
    await expectBadParam(await h.call('/admin/audit?after=aud_nope'), 'after');
    await expectBadParam(await h.call('/admin/audit?limit=0'), 'limit');
    await expectBadParam(await h.call('/admin/audit?from=last-tuesday'), 'from');
    await expectBadParam(await h.call('/admin/audit?actor=admin'), 'actor');
  });
});
