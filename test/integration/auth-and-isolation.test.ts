import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, ADMIN_TOKEN, type Harness } from '../helpers/app-harness.js';

let sim: SimulatorHandle;
let h: Harness;

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 200, apiKey: 'sk-upstream-sim' });
  h = buildHarness({ upstreamUrl: sim.url, upstreamKey: 'sk-upstream-sim' });
});
afterAll(async () => {
  h.close();
  await sim.close();
});

async function createVideo(secret: string): Promise<string> {
  const res = await h.createJson(secret, { prompt: 'p', model: 'sora-2' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

describe('API key authentication', () => {
  it.each([
    ['no header', undefined],
    ['not bearer', 'Basic abc'],
    ['unknown reelay key', 'Bearer sk-reelay-doesnotexist'],
    ['a non-reelay token', 'Bearer sk-proj-abc'],
  ])('refuses %s with 401 invalid_api_key and no upstream call', async (_name, auth) => {
    const before = sim.sim.requestCount;
    const res = await h.app.request('/v1/videos', { headers: auth ? { authorization: auth } : {} });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
    expect(sim.sim.requestCount).toBe(before);
  });

  it('refuses a revoked key from the moment it is revoked', async () => {
    const k = await h.newKey('5.00');
    expect((await h.call('/v1/videos', { key: k.secret })).status).toBe(200);
    const del = await h.admin(`/admin/keys/${k.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(((await del.json()) as { revoked_at: string }).revoked_at).toBeTruthy();
    expect((await h.call('/v1/videos', { key: k.secret })).status).toBe(401);
  });

  it('refuses an expired key and a disabled key', async () => {
    const expired = await h.newKey('5.00', { expiresAt: Date.now() - 1000 });
    expect((await h.call('/v1/videos', { key: expired.secret })).status).toBe(401);
    const k = await h.newKey('5.00');
    await h.admin(`/admin/keys/${k.id}`, { method: 'PATCH', body: JSON.stringify({ disabled: true }) });
    expect((await h.call('/v1/videos', { key: k.secret })).status).toBe(401);
    await h.admin(`/admin/keys/${k.id}`, { method: 'PATCH', body: JSON.stringify({ disabled: false }) });
    expect((await h.call('/v1/videos', { key: k.secret })).status).toBe(200);
  });

  it('keeps the admin API apart: reelay keys get 403, a wrong token 401', async () => {
    const k = await h.newKey('1.00');
    expect((await h.call('/admin/keys', { key: k.secret })).status).toBe(403);
    expect((await h.app.request('/admin/keys')).status).toBe(401);
    expect((await h.app.request('/admin/keys', { headers: { authorization: 'Bearer wrong-token-xxxxxxxx' } })).status).toBe(401);
    expect((await h.app.request('/admin/keys', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
  });

  it('creates keys through the admin API with the secret shown once and only its hash stored', async () => {
    const res = await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'team a', credit_usd: '3.50', allowed_models: ['sora-2'] }) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; key: string; balance_usd: string; prefix: string };
    expect(body.key).toMatch(/^sk-reelay-[A-Za-z0-9_-]{43}$/);
    expect(body.balance_usd).toBe('3.500000');
    expect(body.key.startsWith(body.prefix)).toBe(true);
    const shown = await (await h.admin(`/admin/keys/${body.id}`)).text();
    expect(shown).not.toContain(body.key);
    const row = h.database.sqlite.prepare('select * from api_keys where id = ?').get(body.id) as Record<string, unknown>;
    expect(JSON.stringify(row)).not.toContain(body.key);
    const models = await h.call('/v1/models', { key: body.key });
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['sora-2']);
    const pro = await h.createJson(body.key, { prompt: 'p', model: 'sora-2-pro' });
    expect(pro.status).toBe(403);
    expect(await pro.json()).toMatchObject({ error: { code: 'model_not_allowed' } });
  });
});

describe('tenant isolation', () => {
  it("answers 404 to key B on every route of key A's video, with zero upstream calls", async () => {
    const a = await h.newKey('10.00');
    const b = await h.newKey('10.00');
    const videoId = await createVideo(a.secret);
    const before = sim.sim.requestCount;
    const attempts = [
      h.call(`/v1/videos/${videoId}`, { key: b.secret }),
      h.call(`/v1/videos/${videoId}`, { key: b.secret, method: 'DELETE' }),
      h.call(`/v1/videos/${videoId}/content`, { key: b.secret }),
      h.call(`/v1/videos/${videoId}/content?variant=thumbnail`, { key: b.secret }),
      h.call(`/v1/videos/${videoId}/remix`, { key: b.secret, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' }),
      h.call('/v1/videos/video_never_existed', { key: b.secret }),
    ];
    const unknown = await (await h.call('/v1/videos/video_never_existed', { key: b.secret })).json();
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual(unknown);
    }
    const edits = await h.call('/v1/videos/edits', { key: b.secret, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', video: { id: videoId } }) });
    expect(edits.status).toBe(400);
    expect(await edits.json()).toMatchObject({ error: { param: 'video' } });
    expect(sim.sim.requestCount).toBe(before);
    const list = (await (await h.call('/v1/videos', { key: b.secret })).json()) as { data: unknown[] };
    expect(list.data).toHaveLength(0);
    expect((await h.call(`/v1/videos/${videoId}`, { key: a.secret })).status).toBe(200);
  });
});

describe('characters', () => {
  it('are readable only by the key that created them; others get 404 with no upstream call', async () => {
    const a = await h.newKey('1.00');
    const b = await h.newKey('1.00');
    const form = new FormData();
    form.append('name', 'Ada');
    form.append('video', new Blob([Buffer.from('fake mp4 bytes')], { type: 'video/mp4' }), 'ada.mp4');
    const req = new Request('http://x/', { method: 'POST', body: form });
    const body = new Uint8Array(await req.arrayBuffer());
    const created = await h.call('/v1/videos/characters', { key: a.secret, method: 'POST', headers: { 'content-type': req.headers.get('content-type')! }, body });
    expect(created.status).toBe(200);
    const character = (await created.json()) as { id: string; name: string };
    expect(character.name).toBe('Ada');
    const mine = await h.call(`/v1/videos/characters/${character.id}`, { key: a.secret });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id: character.id, name: 'Ada' });
    const before = sim.sim.requestCount;
    for (const id of [character.id, 'char_guessed_0001']) {
      const res = await h.call(`/v1/videos/characters/${id}`, { key: b.secret });
      expect(res.status).toBe(404);
    }
    expect(sim.sim.requestCount).toBe(before);
    expect((await h.deps.store.getKey(a.id))!.balanceMicros).toBe(1_000_000);
  });
});
