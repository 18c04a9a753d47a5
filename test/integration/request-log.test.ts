import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, type Harness } from '../helpers/app-harness.js';

let sim: SimulatorHandle;
let h: Harness;
let key: { id: string; secret: string };

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 100 });
  h = buildHarness({ upstreamUrl: sim.url });
  key = await h.newKey('10.00');
});
afterAll(async () => {
  h.close();
  await sim.close();
});

describe('request ids and the request log', () => {
  it('reuses a well-formed x-request-id and replaces an unsafe or 10 KB one', async () => {
    const ok = await h.call('/v1/videos', { key: key.secret, headers: { 'x-request-id': 'client-abc.123:x' } });
    expect(ok.headers.get('x-request-id')).toBe('client-abc.123:x');
    const long = await h.call('/v1/videos', { key: key.secret, headers: { 'x-request-id': 'a'.repeat(10_000) } });
    expect(long.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{24}$/);
    const bad = await h.call('/v1/videos', { key: key.secret, headers: { 'x-request-id': 'has spaces<script>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('writes one row per request, findable by reelay, client and upstream ids and by video id', async () => {
    const res = await h.createJson(key.secret, { prompt: 'p' }, { 'x-client-request-id': 'my-client-id-1' });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    const upstreamId = res.headers.get('x-upstream-request-id')!;
    expect(upstreamId).toMatch(/^req_/);
    const videoId = ((await res.json()) as { id: string }).id;
    const unauth = await h.app.request('/v1/videos');
    const unauthId = unauth.headers.get('x-request-id')!;
    await h.deps.requestLog.flush();

    for (const id of [requestId, 'my-client-id-1', upstreamId]) {
      const rows = await h.deps.store.searchRequestLog({ requestId: id, limit: 10 });
      expect(rows, id).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        requestId,
        clientRequestId: 'my-client-id-1',
        upstreamRequestId: upstreamId,
        keyId: key.id,
        method: 'POST',
        route: '/v1/videos',
        videoId,
        status: 200,
      });
      expect(rows[0]!.upstreamDurationMs).not.toBeNull();
      expect(rows[0]!.bytesIn).toBeGreaterThan(0);
      expect(rows[0]!.bytesOut).toBeGreaterThan(0);
    }
    expect(await h.deps.store.searchRequestLog({ videoId, limit: 10 })).toHaveLength(1);
    const unauthRow = (await h.deps.store.searchRequestLog({ requestId: unauthId, limit: 1 }))[0]!;
    expect(unauthRow).toMatchObject({ status: 401, errorCode: 'invalid_api_key', keyId: null });
    const log = JSON.stringify(h.database.sqlite.prepare('select * from request_log').all());
    expect(log).not.toContain(key.secret);
  });

  it('puts x-request-id on every kind of response, including health and admin', async () => {
    const health = await h.app.request('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    for (const res of [await h.app.request('/healthz'), await h.admin('/admin/keys'), await h.app.request('/admin/keys'), await h.app.request('/nope')]) {
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    }
  });
  it('records an unauthenticated request with its route pattern and ids cut to 128 characters', async () => {
    const long = 'x'.repeat(15 * 1024);
    const cases = [
      { path: `/v1/videos/video_${long}`, route: '/v1/videos/:id' },
      { path: `/v1/videos/video_${long}/content`, route: '/v1/videos/:id/content' },
      { path: `/v1/${long}`, route: '/v1/*' },
      { path: `/admin/keys/${long}`, route: '/admin/keys/:id' },
      { path: `/admin/${long}`, route: '/admin/*' },
      { path: `/admin/ui/${long}`, route: '/admin/*', status: 303 },
    ];
    for (const [i, { path, route, status }] of cases.entries()) {
      const res = await h.app.request(path, { headers: { 'x-client-request-id': `anon-${i}-${'c'.repeat(500)}`, authorization: 'Bearer wrong' } });
      expect(res.status, path.slice(0, 40)).toBe(status ?? 401);
      await h.deps.requestLog.flush();
      const row = (await h.deps.store.searchRequestLog({ requestId: res.headers.get('x-request-id')!, limit: 1 }))[0]!;
      expect(row, route).toMatchObject({ route, keyId: null, status: status ?? 401, clientRequestId: `anon-${i}-${'c'.repeat(500)}`.slice(0, 128) });
      expect(JSON.stringify(row).length, route).toBeLessThan(1024);
    }
  });

  it('keeps the path and the whole client request id of authenticated requests', async () => {
    const clientId = `mine-${'c'.repeat(400)}`;
    const res = await h.call('/v1/videos/video_unknown_to_reelay', { key: key.secret, headers: { 'x-client-request-id': clientId } });
    expect(res.status).toBe(404);
    const admin = await h.admin('/admin/keys/key_unknown', { headers: { 'x-client-request-id': clientId } });
    expect(admin.status).toBe(404);
    await h.deps.requestLog.flush();
    const row = (await h.deps.store.searchRequestLog({ requestId: res.headers.get('x-request-id')!, limit: 1 }))[0]!;
    expect(row).toMatchObject({ route: '/v1/videos/:id', keyId: key.id, videoId: 'video_unknown_to_reelay', clientRequestId: clientId });
    const adminRow = (await h.deps.store.searchRequestLog({ requestId: admin.headers.get('x-request-id')!, limit: 1 }))[0]!;
    expect(adminRow).toMatchObject({ route: '/admin/keys/key_unknown', clientRequestId: clientId });
  });
});
