import { afterAll, describe, expect, it } from 'vitest';
import { buildHarness } from '../helpers/app-harness.js';
import { createKeyWithCredit } from '../../src/keys/create.js';
import { parseUsd } from '../../src/money.js';

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
    [{ max_concurrent_downloads: 0 }, 'max_concurrent_downloads'],
    [{ max_concurrent_downloads: 1001 }, 'max_concurrent_downloads'],
    [{ max_concurrent_downloads: 2.5 }, 'max_concurrent_downloads'],
    [{ max_concurrent_downloads: '8' }, 'max_concurrent_downloads'],
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

  const count = (table: string) => (h.database.sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;

  it.each([
    ['999999999999'], // 10^18 micro-USD: past what a balance can hold exactly
    ['9007199254.740992'], // 2^53 micro-USD, one past the largest exact amount
    [1e21],
    ['1.0000001'],
    ['-1'],
    ['abc'],
  ])('refuses the credit_usd %j with a 400 naming credit_usd, and creates no key', async (credit) => {
    const before = { keys: count('api_keys'), ledger: count('ledger'), audit: count('audit_log') };
    const res = await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'too rich', credit_usd: credit }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; param: string } }).error).toMatchObject({ code: 'invalid_request', param: 'credit_usd' });
    expect({ keys: count('api_keys'), ledger: count('ledger'), audit: count('audit_log') }).toEqual(before);
  });

  it('accepts the largest exact credit', async () => {
    const res = await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'richest', credit_usd: '9007199254.740991' }) });
    expect(res.status).toBe(201);
    const key = (await res.json()) as KeyJson;
    expect(key).toMatchObject({ balance_usd: '9007199254.740991' });
    // A top-up past it is refused rather than stored inexactly.
    const more = await h.admin(`/admin/keys/${key.id}/credits`, { method: 'POST', body: JSON.stringify({ amount_usd: '0.000001' }) });
    expect(more.status).toBe(400);
    expect(((await more.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: 'amount_usd', message: expect.stringContaining('largest amount') });
    expect(await (await h.admin(`/admin/keys/${key.id}`)).json()).toMatchObject({ balance_usd: '9007199254.740991' });
  });

  it('creates a key, its initial credit and its audit entry as one transaction: when a part fails, nothing is left', async () => {
    const before = { keys: count('api_keys'), ledger: count('ledger'), audit: count('audit_log') };
    const who = { actor: 'test', requestId: null, now: h.deps.now() };
    // The audit entry, written last, fails: the key and its credit are rolled back with it.
    h.database.sqlite.exec("create temp trigger fail_audit before insert on audit_log begin select raise(abort, 'disk full'); end");
    try {
      await expect(createKeyWithCredit(h.deps.store, { name: 'half made', creditMicros: parseUsd('5.00') }, who)).rejects.toThrow('disk full');
    } finally {
      h.database.sqlite.exec('drop trigger fail_audit');
    }
    expect({ keys: count('api_keys'), ledger: count('ledger'), audit: count('audit_log') }).toEqual(before);
    // A credit the ledger refuses (the balance update changes no row) is a 400 naming credit_usd,
    // and the key is rolled back with it.
    h.database.sqlite.exec('create temp trigger refuse_credit before update on api_keys begin select raise(ignore); end');
    try {
      await expect(createKeyWithCredit(h.deps.store, { name: 'refused', creditMicros: 1 }, who)).rejects.toThrow(
        expect.objectContaining({ code: 'invalid_request', param: 'credit_usd' }),
      );
    } finally {
      h.database.sqlite.exec('drop trigger refuse_credit');
    }
    expect({ keys: count('api_keys'), ledger: count('ledger'), audit: count('audit_log') }).toEqual(before);
  });

  it('stores, shows, changes and audits max_concurrent_downloads (null: the default)', async () => {
    const plain = (await (await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'default downloads' }) })).json()) as KeyJson & { max_concurrent_downloads: number | null };
    expect(plain.max_concurrent_downloads).toBeNull();
    const res = await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'three downloads', max_concurrent_downloads: 3 }) });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as KeyJson;
    expect(await (await h.admin(`/admin/keys/${id}`)).json()).toMatchObject({ max_concurrent_downloads: 3 });
    expect((await h.deps.store.getKey(id))!.maxConcurrentDownloads).toBe(3);
    const created = h.database.sqlite.prepare("select details from audit_log where target_id = ? and action = 'key.create'").get(id) as { details: string };
    expect(JSON.parse(created.details)).toMatchObject({ name: 'three downloads', max_concurrent_downloads: 3 });

    const raised = await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify({ max_concurrent_downloads: 1000 }) });
    expect(await raised.json()).toMatchObject({ max_concurrent_downloads: 1000 });
    const cleared = await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify({ max_concurrent_downloads: null }) });
    expect(await cleared.json()).toMatchObject({ max_concurrent_downloads: null });
    const updates = h.database.sqlite.prepare("select details from audit_log where target_id = ? and action = 'key.update' order by seq").all(id) as { details: string }[];
    expect(updates.map((u) => JSON.parse(u.details))).toEqual([{ max_concurrent_downloads: 1000 }, { max_concurrent_downloads: null }]);

    for (const bad of [0, 1001, 1.5, 'many']) {
      const refused = await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'bad downloads', max_concurrent_downloads: bad }) });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('max_concurrent_downloads');
    }
  });
});
