import { afterAll, describe, expect, it } from 'vitest';
import { buildHarness } from '../helpers/app-harness.js';

const h = buildHarness({ upstreamUrl: 'http://127.0.0.1:9/v1' });
afterAll(() => h.close());

type KeyJson = { id: string; name: string; rpm_limit: number | null; expires_at: string | null; allowed_models: string[] | null; disabled: boolean };

describe('/admin/keys', () => {
  it('changes limits, allow-list, expiry and name, and audits what changed with ISO times', async () => {
    const { id } = (await (await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'before' }) })).json()) as KeyJson;
    const res = await h.admin(`/admin/keys/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ name: 'after', rpm_limit: 30, max_inflight_jobs: 2, allowed_models: ['sora-2-pro'], expires_at: '2027-01-01T00:00:00Z' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'after', rpm_limit: 30, max_inflight_jobs: 2, allowed_models: ['sora-2-pro'], expires_at: '2027-01-01T00:00:00.000Z' });
    const audit = h.database.sqlite.prepare("select details from audit_log where target_id = ? and action = 'key.update'").get(id) as { details: string };
    expect(JSON.parse(audit.details)).toMatchObject({ name: 'after', expires_at: '2027-01-01T00:00:00.000Z' });
    const cleared = await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify({ rpm_limit: null, expires_at: null }) });
    expect(await cleared.json()).toMatchObject({ rpm_limit: null, expires_at: null });
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ rpm_limit: 0 }, 'rpm_limit'],
    [{ rpm_limit: 'fast' }, 'rpm_limit'],
    [{ allowed_models: 'sora-2' }, 'allowed_models'],
    [{ expires_at: 'tomorrow' }, 'expires_at'],
    [{ disabled: 'yes' }, 'disabled'],
    [{ balance_usd: '100' }, null],
  ])('refuses the bad PATCH %j with a 400 naming %s, changing nothing', async (body, param) => {
    const { id } = (await (await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'stable' }) })).json()) as KeyJson;
    const res = await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { param: string | null; message: string } }).error;
    if (param) expect(err.param).toBe(param);
    else expect(err.message).toMatch(/balance_usd/);
    expect(await (await h.admin(`/admin/keys/${id}`)).json()).toMatchObject({ name: 'stable', rpm_limit: null, disabled: false });
  });

  it('answers 404 for unknown keys and pages through keys with a cursor', async () => {
    expect((await h.admin('/admin/keys/key_missing')).status).toBe(404);
    expect((await h.admin('/admin/keys/key_missing', { method: 'DELETE' })).status).toBe(404);
    for (let i = 0; i < 5; i++) await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `page ${i}` }) });
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await (await h.admin(`/admin/keys?limit=2${after ? `&after=${after}` : ''}`)).json()) as { data: KeyJson[]; has_more: boolean };
      seen.push(...page.data.map((k) => k.id));
      if (!page.has_more) break;
      after = page.data[page.data.length - 1]!.id;
    }
    const total = (h.database.sqlite.prepare('select count(*) as n from api_keys').get() as { n: number }).n;
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });
});
