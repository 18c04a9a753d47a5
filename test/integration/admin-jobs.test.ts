import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHarness, allPages, conforms, expectBadParam, seedJob, seedKey, type AdminHarness } from './admin-fixtures.js';
import { jobDetailSchema, jobSchema } from '../../src/admin/openapi.js';
import type { KeyRow } from '../../src/db/keys-store.js';
import type { JobRow } from '../../src/db/billing-store.js';

const DAY = 24 * 3600_000;
const T0 = Date.UTC(2026, 10, 1); // 2026-11-01

let h: AdminHarness;
let alice: KeyRow;
let bob: KeyRow;
const seeded: Record<string, JobRow> = {};

beforeAll(async () => {
  h = adminHarness();
  alice = await seedKey(h.deps, 'alice');
  bob = await seedKey(h.deps, 'bob');
  seeded.completed = await seedJob(h.deps, alice, { at: T0 - DAY, outcome: 'completed', seconds: 8, billedSeconds: 7 });
  seeded.failed = await seedJob(h.deps, alice, { at: T0, outcome: 'failed' });
  seeded.rejected = await seedJob(h.deps, alice, { at: T0 + 1000, outcome: 'rejected' });
  seeded.open = await seedJob(h.deps, bob, { at: T0 + 2000, outcome: 'open', model: 'sora-2-pro', size: '1024x1792' });
  seeded.expired = await seedJob(h.deps, bob, { at: T0 + DAY, outcome: 'expired' });
  seeded.unknown = await seedJob(h.deps, bob, { at: T0 + DAY + 1, outcome: 'unknown' });
});
afterAll(() => h.close());

const ids = (list: { data: { id: string }[] }) => list.data.map((j) => j.id);
const publicId = (j: JobRow) => j.videoId ?? j.id;

describe('GET /admin/jobs', () => {
  it('lists every job, newest first, in the documented shape', async () => {
    const list = await h.json<{ data: unknown[]; has_more: boolean }>('/admin/jobs');
    expect(list.has_more).toBe(false);
    const jobs = list.data.map((j) => conforms(jobSchema, j));
    expect(jobs.map((j) => j.id)).toEqual(
      [seeded.unknown, seeded.expired, seeded.open, seeded.rejected, seeded.failed, seeded.completed].map((j) => publicId(j!)),
    );
    expect(jobs.find((j) => j.id === seeded.completed!.videoId)).toMatchObject({
      key_id: alice.id,
      kind: 'create',
      model: 'sora-2',
      requested_seconds: 8,
      billed_seconds: 7,
      status: 'completed',
      unit_price_usd: '0.100000',
      held_usd: '0.800000',
      charged_usd: '0.700000',
      request_id: seeded.completed!.requestId,
      upstream_request_id: seeded.completed!.upstreamRequestId,
      created_at: new Date(T0 - DAY).toISOString(),
      completed_at: new Date(T0 - DAY + 60_000).toISOString(),
    });
  });

  it("falls back to reelay's job id for a create the upstream never accepted", async () => {
    const list = await h.json('/admin/jobs?status=rejected');
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ id: seeded.rejected!.id, job_id: seeded.rejected!.id, status: 'rejected', charged_usd: '0.000000' });
  });

  it('filters by key, status (open = pending, queued, in_progress), model and time range', async () => {
    expect(ids(await h.json(`/admin/jobs?key_id=${bob.id}`))).toEqual([seeded.unknown, seeded.expired, seeded.open].map((j) => publicId(j!)));
    expect(ids(await h.json('/admin/jobs?status=open'))).toEqual([publicId(seeded.open!)]);
    expect(ids(await h.json('/admin/jobs?status=queued'))).toEqual([publicId(seeded.open!)]);
    expect(ids(await h.json('/admin/jobs?model=sora-2-pro'))).toEqual([publicId(seeded.open!)]);
    // from inclusive, to exclusive; a date means midnight UTC.
    expect(ids(await h.json('/admin/jobs?from=2026-11-01&to=2026-11-02&order=asc'))).toEqual(
      [seeded.failed, seeded.rejected, seeded.open].map((j) => publicId(j!)),
    );
    expect(ids(await h.json(`/admin/jobs?from=${encodeURIComponent(new Date(T0 + 1000).toISOString())}&to=2026-11-02T00:00:00.001Z&order=asc`))).toEqual(
      [seeded.rejected, seeded.open, seeded.expired].map((j) => publicId(j!)),
    );
    expect(ids(await h.json(`/admin/jobs?key_id=${alice.id}&status=completed&to=2026-11-01`))).toEqual([publicId(seeded.completed!)]);
    expect((await h.json('/admin/jobs?key_id=key_nobody')).data).toEqual([]);
  });

  it('refuses bad filters with a 400 naming the parameter', async () => {
    await expectBadParam(await h.call('/admin/jobs?status=done'), 'status');
    await expectBadParam(await h.call('/admin/jobs?from=2026-02-30'), 'from');
    await expectBadParam(await h.call('/admin/jobs?from=yesterday'), 'from');
    await expectBadParam(await h.call('/admin/jobs?to=1'), 'to');
    await expectBadParam(await h.call('/admin/jobs?from=2026-11-02&to=2026-11-01'), 'to');
    await expectBadParam(await h.call('/admin/jobs?limit=0'), 'limit');
    await expectBadParam(await h.call('/admin/jobs?limit=1001'), 'limit');
    await expectBadParam(await h.call('/admin/jobs?limit=ten'), 'limit');
    await expectBadParam(await h.call('/admin/jobs?order=newest'), 'order');
    await expectBadParam(await h.call('/admin/jobs?after=video_unknown'), 'after');
    await expectBadParam(await h.call('/admin/jobs?keyid=key_1'), 'keyid');
  });
});

describe('GET /admin/jobs pagination', () => {
  let p: AdminHarness;
  let expected: string[];

  beforeAll(async () => {
    p = adminHarness();
    const key = await seedKey(p.deps, 'pager', '10000.00');
    const jobs: JobRow[] = [];
    // 230 jobs, many sharing a created_at (ties of 5), some without a video id.
    for (let i = 0; i < 230; i++) jobs.push(await seedJob(p.deps, key, { at: T0 + Math.floor(i / 5) * 1000, outcome: i % 7 === 0 ? 'rejected' : 'completed' }));
    expected = jobs
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .map((j) => j.videoId ?? j.id);
  });
  afterAll(() => p.close());

  it('walks every job exactly once across pages, ties on created_at included', async () => {
    const { items, pages } = await allPages<{ id: string }>(p, '/admin/jobs', 17);
    expect(pages).toBe(Math.ceil(230 / 17));
    expect(items.map((j) => j.id)).toEqual(expected);
  });

  it('walks them oldest first with order=asc, and with the default page size', async () => {
    const asc = await allPages<{ id: string }>(p, '/admin/jobs?order=asc', 13);
    expect(asc.items.map((j) => j.id)).toEqual([...expected].reverse());
    const page = await p.json<{ data: unknown[]; has_more: boolean }>('/admin/jobs');
    expect(page.data).toHaveLength(100);
    expect(page.has_more).toBe(true);
  });

  it('pages within a filter, with the cursor taken from the filtered list', async () => {
    const { items } = await allPages<{ id: string; status: string }>(p, '/admin/jobs?status=rejected', 4);
    expect(items.map((j) => j.id)).toEqual(expected.filter((id) => id.startsWith('job_')));
    expect(items.every((j) => j.status === 'rejected')).toBe(true);
  });
});

describe('GET /admin/jobs/{id}', () => {
  it("shows the job's whole lifecycle: the job, its ledger entries and its requests", async () => {
    const job = seeded.completed!;
    h.deps.requestLog.push(logRow({ requestId: job.requestId, videoId: job.videoId, route: '/v1/videos', method: 'POST', createdAt: job.createdAt }));
    h.deps.requestLog.push(logRow({ requestId: 'req_poll_1', videoId: job.videoId, route: `/v1/videos/${job.videoId}`, createdAt: job.createdAt + 5000 }));
    h.deps.requestLog.push(logRow({ requestId: 'req_other', videoId: 'video_other', createdAt: job.createdAt + 6000 }));
    // No flush here: the detail view shows the calls made up to now, not up to the last batch.
    const detail = conforms(jobDetailSchema, await h.json(`/admin/jobs/${job.videoId}`));
    expect(detail).toMatchObject({ id: job.videoId, job_id: job.id, status: 'completed', charged_usd: '0.700000', requests_truncated: false });
    expect(detail.ledger.map((e) => [e.kind, e.amount_usd, e.video_id])).toEqual([
      ['hold', '0.800000', job.videoId],
      ['capture', '0.700000', job.videoId],
      ['release', '0.100000', job.videoId],
    ]);
    expect(detail.requests.map((r) => [r.request_id, r.method])).toEqual([
      [job.requestId, 'POST'],
      ['req_poll_1', 'GET'],
    ]);
  });

  it("finds a job by reelay's internal id too, including a rejected create's own request", async () => {
    const job = seeded.rejected!;
    h.deps.requestLog.push(logRow({ requestId: job.requestId, videoId: null, route: '/v1/videos', method: 'POST', status: 400, createdAt: job.createdAt }));
    const detail = conforms(jobDetailSchema, await h.json(`/admin/jobs/${job.id}`));
    expect(detail.id).toBe(job.id);
    expect(detail.ledger.map((e) => e.kind)).toEqual(['hold', 'release']);
    expect(detail.requests.map((r) => [r.request_id, r.status])).toEqual([[job.requestId, 400]]);
    const byInternalId = conforms(jobDetailSchema, await h.json(`/admin/jobs/${seeded.completed!.id}`));
    expect(byInternalId.id).toBe(seeded.completed!.videoId);
  });

  it('answers 404 for an unknown id', async () => {
    const res = await h.call('/admin/jobs/video_nope');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});

function logRow(r: { requestId: string; videoId: string | null; route?: string; method?: string; status?: number; createdAt: number }) {
  return {
    requestId: r.requestId,
    clientRequestId: null,
    upstreamRequestId: null,
    keyId: alice.id,
    method: r.method ?? 'GET',
    route: r.route ?? '/v1/videos/x',
    videoId: r.videoId,
    status: r.status ?? 200,
    errorCode: null,
    durationMs: 3,
    upstreamDurationMs: 2,
    bytesIn: 0,
    bytesOut: 10,
    createdAt: r.createdAt,
  };
}
