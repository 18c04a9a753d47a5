import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHarness, allPages, conforms, expectBadParam, seedKey, type AdminHarness } from './admin-fixtures.js';
import { requestLogRowSchema } from '../../src/admin/openapi.js';
import type { KeyRow } from '../../src/db/keys-store.js';

const T0 = Date.UTC(2026, 10, 1);

let h: AdminHarness;
let key: KeyRow;

type Row = { id: string; request_id: string; client_request_id: string | null; upstream_request_id: string | null; video_id: string | null; key_id: string | null; route: string };

function push(r: { requestId: string; clientRequestId?: string | null; upstreamRequestId?: string | null; videoId?: string | null; keyId?: string | null; at: number; status?: number }) {
  h.deps.requestLog.push({
    requestId: r.requestId,
    clientRequestId: r.clientRequestId ?? null,
    upstreamRequestId: r.upstreamRequestId ?? null,
    keyId: r.keyId === undefined ? key.id : r.keyId,
    method: 'GET',
    route: r.videoId ? `/v1/videos/${r.videoId}` : '/v1/videos',
    videoId: r.videoId ?? null,
    status: r.status ?? 200,
    errorCode: r.status && r.status >= 400 ? 'not_found' : null,
    durationMs: 12,
    upstreamDurationMs: 9,
    bytesIn: 0,
    bytesOut: 321,
    createdAt: r.at,
  });
}

beforeAll(async () => {
  h = adminHarness();
  key = await seedKey(h.deps, 'logger');
  push({ requestId: 'req_a', clientRequestId: 'client-1', upstreamRequestId: 'up-1', videoId: 'video_1', at: T0 });
  push({ requestId: 'req_b', upstreamRequestId: 'up-2', videoId: 'video_1', at: T0 + 1000 });
  push({ requestId: 'req_c', videoId: 'video_2', at: T0 + 2000, status: 404 });
  push({ requestId: 'req_d', keyId: null, at: T0 + 86_400_000 });
  await h.deps.requestLog.flush();
});
afterAll(() => h.close());

const reqIds = (list: { data: Row[] }) => list.data.map((r) => r.request_id);

describe('GET /admin/requests', () => {
  it('finds a request by reelay\'s, the client\'s or the upstream\'s request id', async () => {
    for (const id of ['req_a', 'client-1', 'up-1']) expect(reqIds(await h.json(`/admin/requests?request_id=${id}`)), id).toEqual(['req_a']);
    const row = conforms(requestLogRowSchema, (await h.json('/admin/requests?request_id=client-1')).data[0]);
    expect(row).toMatchObject({
      request_id: 'req_a',
      client_request_id: 'client-1',
      upstream_request_id: 'up-1',
      key_id: key.id,
      method: 'GET',
      route: '/v1/videos/video_1',
      video_id: 'video_1',
      status: 200,
      duration_ms: 12,
      upstream_duration_ms: 9,
      bytes_out: 321,
      created_at: new Date(T0).toISOString(),
    });
  });

  it('filters by video id, key and time range (newest first)', async () => {
    expect(reqIds(await h.json('/admin/requests?video_id=video_1'))).toEqual(['req_b', 'req_a']);
    expect(reqIds(await h.json(`/admin/requests?key_id=${key.id}&to=2026-11-02`))).toEqual(['req_c', 'req_b', 'req_a']);
    expect(reqIds(await h.json(`/admin/requests?from=${encodeURIComponent(new Date(T0 + 1000).toISOString())}&to=2026-11-01T00:00:02Z`))).toEqual(['req_b']);
    expect(reqIds(await h.json('/admin/requests?from=2026-11-02&to=2026-11-03'))).toEqual(['req_d']);
  });

  it('includes rows still waiting for their batch, and logs the admin API\'s own requests', async () => {
    push({ requestId: 'req_unflushed', at: T0 + 5000 });
    expect(reqIds(await h.json('/admin/requests?request_id=req_unflushed'))).toEqual(['req_unflushed']);
    await h.call('/admin/pricing', { headers: { 'x-request-id': 'admin-probe-1' } });
    const logged = (await h.json<{ data: Row[] }>('/admin/requests?request_id=admin-probe-1')).data;
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ route: '/admin/pricing', client_request_id: 'admin-probe-1', key_id: null });
  });

  it('pages through many rows without duplicates or gaps', async () => {
    for (let i = 0; i < 45; i++) push({ requestId: `req_page_${i}`, videoId: 'video_paged', at: T0 + 10_000 + (i % 3) });
    const { items, pages } = await allPages<Row>(h, '/admin/requests?video_id=video_paged', 10);
    expect(pages).toBe(5);
    expect(items.map((r) => r.request_id)).toEqual(Array.from({ length: 45 }, (_, i) => `req_page_${44 - i}`));
  });

  it('refuses bad filters with a 400 naming the parameter', async () => {
    await expectBadParam(await h.call('/admin/requests?after=req_a'), 'after');
    await expectBadParam(await h.call('/admin/requests?from=11/01/2026'), 'from');
    await expectBadParam(await h.call('/admin/requests?limit=5000'), 'limit');
    await expectBadParam(await h.call('/admin/requests?request_id='), 'request_id');
    await expectBadParam(await h.call('/admin/requests?status=200'), 'status');
  });
});
