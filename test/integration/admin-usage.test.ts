import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { adminHarness, conforms, expectBadParam, seedJob, seedKey, type AdminHarness } from './admin-fixtures.js';
import { exportRowSchema, usageSummarySchema } from '../../src/admin/openapi.js';
import { EXPORT_COLUMNS } from '../../src/admin/export.js';
import { parseUsd } from '../../src/money.js';
import type { KeyRow } from '../../src/db/keys-store.js';
import type { JobRow } from '../../src/db/billing-store.js';

const DAY = 24 * 3600_000;
const T0 = Date.UTC(2026, 10, 1);

let h: AdminHarness;
let acme: KeyRow;
let zed: KeyRow;
const j: Record<string, JobRow> = {};

beforeAll(async () => {
  h = adminHarness({ flatModel: true });
  acme = await seedKey(h.deps, 'Acme "Video", Inc.\nPost-production');
  zed = await seedKey(h.deps, '=cmd|calc');
  j.completed = await seedJob(h.deps, acme, { at: T0, outcome: 'completed', seconds: 8, billedSeconds: 7 });
  j.pro = await seedJob(h.deps, acme, { at: T0 + 1000, outcome: 'completed', model: 'sora-2-pro', size: '1080x1920', seconds: 12 });
  j.flat = await seedJob(h.deps, zed, { at: T0 + 2000, outcome: 'completed', model: 'flat-1' });
  j.failed = await seedJob(h.deps, zed, { at: T0 + DAY, outcome: 'failed' });
  j.rejected = await seedJob(h.deps, zed, { at: T0 + DAY + 1, outcome: 'rejected' });
  j.unknown = await seedJob(h.deps, acme, { at: T0 + DAY + 2, outcome: 'unknown' });
  j.expired = await seedJob(h.deps, acme, { at: T0 + DAY + 3, outcome: 'expired' });
  j.open = await seedJob(h.deps, zed, { at: T0 + 2 * DAY, outcome: 'open' });
  j.before = await seedJob(h.deps, zed, { at: T0 - 1, outcome: 'completed' });
});
afterAll(() => h.close());

const NOVEMBER = 'from=2026-11-01&to=2026-12-01';

describe('GET /admin/usage/export', () => {
  it('streams a CSV attachment with one row per billable job of the range, charged or not', async () => {
    const res = await h.call(`/admin/usage/export?${NOVEMBER}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="reelay-usage-2026-11-01-to-2026-12-01.csv"');
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const csv = await res.text();
    expect(csv.split('\r\n')[0]).toBe(EXPORT_COLUMNS.join(','));
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.job_id)).toEqual([j.completed, j.pro, j.flat, j.failed, j.rejected, j.unknown, j.expired, j.open].map((x) => x!.id));
    const by = (job: JobRow) => rows.find((r) => r.job_id === job.id)!;
    expect(by(j.completed!)).toMatchObject({
      video_id: j.completed!.videoId,
      key_id: acme.id,
      key_name: acme.name,
      model: 'sora-2',
      size: '720x1280',
      requested_seconds: '8',
      seconds: '7',
      pricing: 'per_second',
      unit_price_usd: '0.100000',
      amount_usd: '0.700000',
      status: 'completed',
      created_at: '2026-11-01T00:00:00.000Z',
      completed_at: '2026-11-01T00:01:00.000Z',
      request_id: j.completed!.requestId,
      upstream_request_id: j.completed!.upstreamRequestId,
    });
    expect(by(j.pro!)).toMatchObject({ seconds: '12', unit_price_usd: '0.700000', amount_usd: '8.400000' });
    expect(by(j.flat!)).toMatchObject({ pricing: 'per_request', unit_price_usd: '0.250000', amount_usd: '0.250000', key_name: "'=cmd|calc" });
    for (const x of [j.failed, j.rejected, j.unknown, j.expired, j.open]) expect(by(x!)).toMatchObject({ seconds: '0', amount_usd: '0.000000', status: x!.status });
    expect(by(j.failed!).error_code).toBe('content_policy');
    expect(by(j.rejected!)).toMatchObject({ video_id: '', upstream_request_id: '', completed_at: '' });
    expect(by(j.open!).status).toBe('queued');
    const total = rows.reduce((s, r) => s + parseUsd(r.amount_usd!), 0);
    expect(total).toBe(700_000 + 8_400_000 + 250_000);
  });

  it('exports JSON lines and a JSON array with typed values, in the documented row shape', async () => {
    const jsonl = await h.call(`/admin/usage/export?${NOVEMBER}&format=jsonl`);
    expect(jsonl.headers.get('content-disposition')).toBe('attachment; filename="reelay-usage-2026-11-01-to-2026-12-01.jsonl"');
    const lines = (await jsonl.text()).trimEnd().split('\n').map((l) => conforms(exportRowSchema, JSON.parse(l)));
    expect(lines).toHaveLength(8);
    expect(lines[0]).toMatchObject({ key_name: acme.name, seconds: 7, requested_seconds: 8, completed_at: '2026-11-01T00:01:00.000Z' });
    expect(lines.find((r) => r.job_id === j.rejected!.id)).toMatchObject({ video_id: null, completed_at: null, upstream_request_id: null });
    const json = await h.call(`/admin/usage/export?${NOVEMBER}&format=json`);
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const array = (await json.json()) as unknown[];
    expect(array).toEqual(lines);
    expect(lines.find((r) => r.job_id === j.flat!.id)!.key_name).toBe('=cmd|calc'); // only CSV neutralises formulas
  });

  it('filters by key and by range (from inclusive, to exclusive)', async () => {
    const rows = (q: string) =>
      h.call(`/admin/usage/export?format=jsonl&${q}`).then(async (r) =>
        (await r.text())
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { job_id: string }).job_id),
      );
    expect(await rows(`key_id=${zed.id}&${NOVEMBER}`)).toEqual([j.flat, j.failed, j.rejected, j.open].map((x) => x!.id));
    expect(await rows('from=2026-11-02&to=2026-11-03')).toEqual([j.failed, j.rejected, j.unknown, j.expired].map((x) => x!.id));
    expect(await rows('to=2026-11-01')).toEqual([j.before!.id]);
    expect(await rows('key_id=key_nobody')).toEqual([]);
    const empty = await h.call('/admin/usage/export?key_id=key_nobody&format=json');
    expect(await empty.json()).toEqual([]);
  });

  it('refuses bad parameters with a 400 naming the parameter', async () => {
    await expectBadParam(await h.call('/admin/usage/export?format=xlsx'), 'format');
    await expectBadParam(await h.call('/admin/usage/export?from=2026-11'), 'from');
    await expectBadParam(await h.call('/admin/usage/export?from=2026-12-01&to=2026-11-01'), 'to');
    await expectBadParam(await h.call('/admin/usage/export?key='), 'key');
  });

  it('writes the request-log row of an export when the stream ends, with the bytes sent', async () => {
    const res = await h.call(`/admin/usage/export?${NOVEMBER}`, { headers: { 'x-request-id': 'export-probe' } });
    const body = await res.text();
    await h.deps.requestLog.flush();
    const rows = await h.deps.store.searchRequestLog({ requestId: 'export-probe', limit: 5 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ route: '/admin/usage/export', status: 200, bytesOut: Buffer.byteLength(body) });
  });
});

describe('GET /admin/usage/summary', () => {
  type Summary = { group_by: string; data: { group: string; key_name?: string | null; jobs: number; charged_jobs: number; billed_seconds: number; amount_usd: string }[]; total: unknown };

  it('totals per key by default, with the key names', async () => {
    const s = conforms(usageSummarySchema, await h.json(`/admin/usage/summary?${NOVEMBER}`)) as Summary;
    expect(s.group_by).toBe('key');
    expect(s.data).toEqual(
      [
        { group: acme.id, key_name: acme.name, jobs: 4, charged_jobs: 2, billed_seconds: 19, amount_usd: '9.100000' },
        { group: zed.id, key_name: zed.name, jobs: 4, charged_jobs: 1, billed_seconds: 4, amount_usd: '0.250000' },
      ].sort((a, b) => (a.group < b.group ? -1 : 1)),
    );
    expect(s.total).toEqual({ jobs: 8, charged_jobs: 3, billed_seconds: 23, amount_usd: '9.350000' });
  });

  it('totals per model and per UTC day', async () => {
    const byModel = (await h.json(`/admin/usage/summary?${NOVEMBER}&group_by=model`)) as Summary;
    expect(byModel.data).toEqual([
      { group: 'flat-1', jobs: 1, charged_jobs: 1, billed_seconds: 4, amount_usd: '0.250000' },
      { group: 'sora-2', jobs: 6, charged_jobs: 1, billed_seconds: 7, amount_usd: '0.700000' },
      { group: 'sora-2-pro', jobs: 1, charged_jobs: 1, billed_seconds: 12, amount_usd: '8.400000' },
    ]);
    const byDay = (await h.json('/admin/usage/summary?group_by=day')) as Summary;
    expect(byDay.data).toEqual([
      { group: '2026-10-31', jobs: 1, charged_jobs: 1, billed_seconds: 4, amount_usd: '0.400000' },
      { group: '2026-11-01', jobs: 3, charged_jobs: 3, billed_seconds: 23, amount_usd: '9.350000' },
      { group: '2026-11-02', jobs: 4, charged_jobs: 0, billed_seconds: 0, amount_usd: '0.000000' },
      { group: '2026-11-03', jobs: 1, charged_jobs: 0, billed_seconds: 0, amount_usd: '0.000000' },
    ]);
    const oneKey = (await h.json(`/admin/usage/summary?group_by=day&key_id=${zed.id}&from=2026-11-02`)) as Summary;
    expect(oneKey.data.map((g) => [g.group, g.jobs])).toEqual([
      ['2026-11-02', 2],
      ['2026-11-03', 1],
    ]);
  });

  it('agrees with the export and with the ledger captures', async () => {
    const s = (await h.json('/admin/usage/summary')) as Summary & { total: { amount_usd: string } };
    const captured = (h.deps.database.sqlite.prepare("select sum(amount_micros) as s from ledger where kind = 'capture'").get() as { s: number }).s;
    expect(parseUsd(s.total.amount_usd)).toBe(captured);
  });

  it('refuses bad parameters with a 400 naming the parameter', async () => {
    await expectBadParam(await h.call('/admin/usage/summary?group_by=week'), 'group_by');
    await expectBadParam(await h.call('/admin/usage/summary?to=soon'), 'to');
    await expectBadParam(await h.call('/admin/usage/summary?format=csv'), 'format');
  });
});
