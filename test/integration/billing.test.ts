import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { DEFAULT_CATALOG, sizesOf } from '../../src/billing/catalog.js';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { testReconciler } from '../helpers/reconciler.js';

let sim: SimulatorHandle;
let h: Harness;

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 0 });
  h = buildHarness({ upstreamUrl: sim.url });
});
afterAll(async () => {
  h.close();
  await sim.close();
});

type Video = { id: string; status: string; seconds: string };

async function pollUntilDone(secret: string, id: string): Promise<Video> {
  for (let i = 0; i < 200; i++) {
    const res = await h.call(`/v1/videos/${id}`, { key: secret });
    const v = (await res.json()) as Video;
    if (v.status === 'completed' || v.status === 'failed') return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`video ${id} did not finish`);
}

const reconciler = () => testReconciler(h.deps);

describe('charges on completion', () => {
  const rows: Array<[string, string, string]> = [];
  for (const [model, price] of DEFAULT_CATALOG) {
    for (const size of sizesOf(price)) for (const seconds of price.seconds) rows.push([model, size, String(seconds)]);
  }

  it.each(rows)('%s %s %ss is charged exactly seconds × rate', async (model, size, seconds) => {
    const key = await h.newKey('20.00');
    const res = await h.createJson(key.secret, { prompt: 'table', model, size, seconds });
    expect(res.status).toBe(200);
    const rate = DEFAULT_CATALOG.get(model)!.perSecondMicros![size]!;
    const expected = Number(seconds) * rate;
    expect(res.headers.get('x-reelay-hold-usd')).toBe((expected / 1e6).toFixed(6));
    const v = await pollUntilDone(key.secret, ((await res.json()) as Video).id);
    expect(v.status).toBe('completed');
    const k = (await h.deps.store.getKey(key.id))!;
    expect(k.balanceMicros).toBe(20_000_000 - expected);
    expect(k.heldMicros).toBe(0);
    const job = (await h.deps.store.getJobByVideoId(v.id))!;
    expect(job).toMatchObject({ status: 'completed', chargedMicros: expected, billedSeconds: Number(seconds) });
  });

  it('charges sora-2-pro 1920x1080 for 12 s exactly 8.400000 USD, shown by the admin API', async () => {
    const key = await h.newKey('10.00');
    const res = await h.createJson(key.secret, { prompt: 'p', model: 'sora-2-pro', size: '1920x1080', seconds: '12' });
    await pollUntilDone(key.secret, ((await res.json()) as Video).id);
    const shown = (await (await h.admin(`/admin/keys/${key.id}`)).json()) as Record<string, string>;
    expect(shown).toMatchObject({ balance_usd: '1.600000', held_usd: '0.000000', available_usd: '1.600000' });
  });

  it('serves a finished job from the stored final object without calling the upstream', async () => {
    const key = await h.newKey('1.00');
    const id = ((await (await h.createJson(key.secret, { prompt: 'p' })).json()) as Video).id;
    const done = await pollUntilDone(key.secret, id);
    const before = sim.sim.requestCount;
    const again = await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(await again.json()).toEqual(done);
    expect(sim.sim.requestCount).toBe(before);
  });
});

describe('failed and rejected jobs are free', () => {
  it('a job that fails costs nothing and releases its hold', async () => {
    const key = await h.newKey('1.00');
    const id = ((await (await h.createJson(key.secret, { prompt: 'will [fail] later' })).json()) as Video).id;
    expect((await pollUntilDone(key.secret, id)).status).toBe('failed');
    const k = (await h.deps.store.getKey(key.id))!;
    expect([k.balanceMicros, k.heldMicros]).toEqual([1_000_000, 0]);
    expect(await h.deps.store.getJobByVideoId(id)).toMatchObject({ status: 'failed', chargedMicros: 0 });
  });

  it.each([
    ['content_policy', 400],
    ['server_error', 500],
    ['rate_limit', 429],
  ] as const)('a create the upstream rejects with %s passes through (%i) and costs nothing', async (kind, status) => {
    const key = await h.newKey('1.00');
    sim.sim.failNextCreate(kind);
    const res = await h.createJson(key.secret, { prompt: 'p' });
    expect(res.status).toBe(status);
    const k = (await h.deps.store.getKey(key.id))!;
    expect([k.balanceMicros, k.heldMicros]).toEqual([1_000_000, 0]);
    const ledger = h.database.sqlite.prepare("select kind, amount_micros from ledger where key_id = ? and kind != 'credit' order by seq").all(key.id);
    expect(ledger).toEqual([
      { kind: 'hold', amount_micros: 400_000 },
      { kind: 'release', amount_micros: 400_000 },
    ]);
  });
});

describe('holds', () => {
  it('refuses a job the available balance does not cover: 429 insufficient_quota, x-should-retry false, no upstream call', async () => {
    const key = await h.newKey('0.39');
    const before = sim.sim.requestCount;
    const res = await h.createJson(key.secret, { prompt: 'p' });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(await res.json()).toMatchObject({ error: { code: 'insufficient_quota', type: 'insufficient_quota' } });
    expect(sim.sim.requestCount).toBe(before);
  });

  it('50 concurrent creates on a balance for exactly 10: 10 reach the upstream, 40 are refused', async () => {
    const key = await h.newKey('4.00');
    const before = sim.sim.jobs.size;
    const results = await Promise.all(Array.from({ length: 50 }, () => h.createJson(key.secret, { prompt: 'race' })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    expect(sim.sim.jobs.size - before).toBe(10);
    const k = (await h.deps.store.getKey(key.id))!;
    expect(k.balanceMicros - k.heldMicros).toBe(0);
    expect(await ledgerViolations(h.deps.store)).toEqual([]);
  });

  it('prices remix and edits at the source, extensions at the requested seconds', async () => {
    const key = await h.newKey('20.00');
    const src = ((await (await h.createJson(key.secret, { prompt: 'p', model: 'sora-2-pro', size: '1792x1024', seconds: '8' })).json()) as Video).id;
    await pollUntilDone(key.secret, src);
    const post = (path: string, body: unknown) =>
      h.call(path, { key: key.secret, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const remix = await post(`/v1/videos/${src}/remix`, { prompt: 'again' });
    expect(remix.status).toBe(200);
    expect(remix.headers.get('x-reelay-hold-usd')).toBe('4.000000');
    const edit = await post('/v1/videos/edits', { prompt: 'edit', video: { id: src } });
    expect(edit.headers.get('x-reelay-hold-usd')).toBe('4.000000');
    const ext = await post('/v1/videos/extensions', { prompt: 'more', seconds: '4', video: { id: src } });
    expect(ext.status).toBe(200);
    expect(ext.headers.get('x-reelay-hold-usd')).toBe('2.000000');
    const extId = ((await ext.json()) as Video).id;
    const done = await pollUntilDone(key.secret, extId);
    expect(done.seconds).toBe('12'); // the upstream reports the stitched total …
    expect(await h.deps.store.getJobByVideoId(extId)).toMatchObject({ billedSeconds: 4, chargedMicros: 2_000_000 }); // … billed: the extension only
    const unknown = await post('/v1/videos/edits', { prompt: 'edit', video: { id: 'video_not_ours' } });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'invalid_request', param: 'video' } });
  });
});

describe('the reconciler', () => {
  it('settles every job of a client that never polls again', async () => {
    const key = await h.newKey('10.00');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h.createJson(key.secret, { prompt: i % 3 === 0 ? 'x [fail]' : 'x', seconds: '8' });
      ids.push(((await res.json()) as Video).id);
    }
    // Make every job due now, as time passing would.
    h.database.sqlite.prepare('update jobs set next_poll_at = 0 where key_id = ?').run(key.id);
    await reconciler().tick();
    const jobs = await Promise.all(ids.map(async (id) => (await h.deps.store.getJobByVideoId(id))!));
    expect(jobs.map((j) => j.status)).toEqual(['failed', 'completed', 'completed', 'failed', 'completed', 'completed']);
    const k = (await h.deps.store.getKey(key.id))!;
    expect([k.balanceMicros, k.heldMicros]).toEqual([10_000_000 - 4 * 800_000, 0]);
    expect(await ledgerViolations(h.deps.store)).toEqual([]);
  });
});

describe('idempotency', () => {
  it('replays the first result for the same key and body, creates no second job, 409 on a different body', async () => {
    const key = await h.newKey('5.00');
    const jobsBefore = sim.sim.jobs.size;
    const first = await h.createJson(key.secret, { prompt: 'once' }, { 'idempotency-key': 'idem-1' });
    const second = await h.createJson(key.secret, { prompt: 'once' }, { 'idempotency-key': 'idem-1' });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(sim.sim.jobs.size - jobsBefore).toBe(1);
    expect((await h.deps.store.getKey(key.id))!.heldMicros + (5_000_000 - (await h.deps.store.getKey(key.id))!.balanceMicros)).toBe(400_000);
    const conflict = await h.createJson(key.secret, { prompt: 'different' }, { 'idempotency-key': 'idem-1' });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    const other = await h.newKey('5.00');
    const otherRes = await h.createJson(other.secret, { prompt: 'once' }, { 'idempotency-key': 'idem-1' });
    expect(otherRes.headers.get('idempotent-replayed')).toBeNull();
    expect(sim.sim.jobs.size - jobsBefore).toBe(2);
  });

  it('lets the same key through again when the first attempt was refused before forwarding', async () => {
    const key = await h.newKey('0.10');
    const refused = await h.createJson(key.secret, { prompt: 'p' }, { 'idempotency-key': 'idem-poor' });
    expect(refused.status).toBe(429);
    await h.admin(`/admin/keys/${key.id}/credits`, { method: 'POST', body: JSON.stringify({ amount_usd: '1.00', note: 'top up' }) });
    const ok = await h.createJson(key.secret, { prompt: 'p' }, { 'idempotency-key': 'idem-poor' });
    expect(ok.status).toBe(200);
  });
});

describe('per-key limits', () => {
  it('enforces requests per minute with 429 rate_limit_exceeded and retry-after', async () => {
    const key = await h.newKey('1.00', { rpmLimit: 3 });
    for (let i = 0; i < 3; i++) expect((await h.call('/v1/videos', { key: key.secret })).status).toBe(200);
    const res = await h.call('/v1/videos', { key: key.secret });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('enforces the maximum of in-flight jobs', async () => {
    const slow = await startSimulator({ jobDurationMs: 60_000 });
    const hs = buildHarness({ upstreamUrl: slow.url });
    try {
      const key = await hs.newKey('5.00', { maxInflightJobs: 2 });
      expect((await hs.createJson(key.secret, { prompt: 'a' })).status).toBe(200);
      expect((await hs.createJson(key.secret, { prompt: 'b' })).status).toBe(200);
      const third = await hs.createJson(key.secret, { prompt: 'c' });
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBeTruthy();
      expect(slow.sim.jobs.size).toBe(2);
    } finally {
      hs.close();
      await slow.close();
    }
  });
});

describe('credits', () => {
  it('tops up, adjusts down, never below the available balance, and records who did it', async () => {
    const key = await h.newKey('0');
    const up = await h.admin(`/admin/keys/${key.id}/credits`, { method: 'POST', body: JSON.stringify({ amount_usd: '2.50', note: 'invoice 7' }) });
    expect(up.status).toBe(201);
    expect(await up.json()).toMatchObject({ entry: { kind: 'credit', amount_usd: '2.500000', actor: 'admin', note: 'invoice 7' }, key: { balance_usd: '2.500000' } });
    const down = await h.admin(`/admin/keys/${key.id}/credits`, { method: 'POST', body: JSON.stringify({ amount_usd: -1, note: 'refund' }) });
    expect(await down.json()).toMatchObject({ entry: { kind: 'adjustment', amount_usd: '1.000000' }, key: { balance_usd: '1.500000' } });
    const over = await h.admin(`/admin/keys/${key.id}/credits`, { method: 'POST', body: JSON.stringify({ amount_usd: '-1.500001' }) });
    expect(over.status).toBe(400);
    expect(await over.json()).toMatchObject({ error: { param: 'amount_usd' } });
    for (const bad of [{ amount_usd: 'ten' }, { amount_usd: '1.1234567' }, {}, { amount_usd: '1', extra: 1 }]) {
      const res = await h.admin(`/admin/keys/${key.id}/credits`, { method: 'POST', body: JSON.stringify(bad) });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await h.deps.store.getKey(key.id))!.balanceMicros).toBe(1_500_000);
    const audit = h.database.sqlite.prepare("select action from audit_log where target_id = ? order by seq").all(key.id);
    expect(audit).toEqual([{ action: 'key.credit' }, { action: 'key.adjust' }]);
  });
});
