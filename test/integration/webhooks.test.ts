/**
 * Webhooks to clients (contract §12), through the admin API, the settlement and the delivery
 * worker, received on a local endpoint and verified with the real `openai` SDK's webhooks.unwrap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { FAIL_MARKER } from '../../src/simulator/state.js';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { startWebhookReceiver, headersOf, type ReceivedWebhook } from '../helpers/webhook-receiver.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { testReconciler } from '../helpers/reconciler.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { silentLogger } from '../../src/logging/logger.js';
import { until } from '../helpers/until.js';

let sim: SimulatorHandle;
let h: Harness;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const sdk = new OpenAI({ apiKey: 'unused' });
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const SHORT = [30, 30, 30];

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 0 });
  receiver = await startWebhookReceiver();
  h = buildHarness({ upstreamUrl: sim.url, env: { WEBHOOK_ALLOW_PRIVATE: '1' }, webhooks: { schedule: SHORT } });
});
afterAll(async () => {
  h.close();
  await sim.close();
  await receiver.close();
});

async function keyWithWebhook(url = receiver.url): Promise<{ id: string; key: string; webhookSecret: string }> {
  const res = await h.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'hooked', credit_usd: '10.00', webhook_url: url }) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; key: string; webhook_secret: string };
  return { id: body.id, key: body.key, webhookSecret: body.webhook_secret };
}

/** Creates a video and polls it once: with jobDurationMs 0 it settles on that poll. */
async function finishedVideo(key: string, prompt = 'a cat'): Promise<string> {
  const res = await h.createJson(key, { prompt });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: string };
  const poll = await h.call(`/v1/videos/${id}`, { key });
  expect(poll.status).toBe(200);
  return id;
}

const received = (videoId: string) => receiver.received.filter((r) => JSON.parse(r.body).data.id === videoId);

describe('webhook endpoints on keys', () => {
  it('shows the secret once when a key first gets a URL, keeps it when the URL changes, and never shows it on the key', async () => {
    const { id, webhookSecret } = await keyWithWebhook();
    expect(webhookSecret).toMatch(SECRET);
    const shown = await (await h.admin(`/admin/keys/${id}`)).text();
    expect(JSON.parse(shown)).toMatchObject({ webhook_url: receiver.url });
    expect(shown).not.toContain('whsec_');

    const changed = (await (await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify({ webhook_url: `${receiver.url}?v=2` }) })).json()) as Record<string, unknown>;
    expect(changed).toMatchObject({ webhook_url: `${receiver.url}?v=2` });
    expect(changed).not.toHaveProperty('webhook_secret');
    expect((await h.deps.store.webhookTarget(id, Date.now())).secrets).toEqual([webhookSecret]);

    const removed = (await (await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify({ webhook_url: null }) })).json()) as Record<string, unknown>;
    expect(removed).toMatchObject({ webhook_url: null });
    const again = (await (await h.admin(`/admin/keys/${id}`, { method: 'PATCH', body: JSON.stringify({ webhook_url: receiver.url }) })).json()) as Record<string, unknown>;
    expect(again.webhook_secret).toMatch(SECRET);
    expect(again.webhook_secret).not.toBe(webhookSecret);

    const audit = await (await h.admin(`/admin/audit?limit=1000`)).text();
    expect(audit).not.toContain('whsec_');
  });

  it('refuses a rotation for a key without a URL, and an unknown key', async () => {
    const plain = await h.newKey('1.00');
    const res = await h.admin(`/admin/keys/${plain.id}/webhook-secret`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('webhook_url');
    expect((await h.admin('/admin/keys/key_nope/webhook-secret', { method: 'POST' })).status).toBe(404);
  });
});

describe('delivery', () => {
  it('sends one signed event per finished job that the OpenAI SDK verifies, and rejects a wrong secret or a tampered body', async () => {
    const k = await keyWithWebhook();
    const done = await finishedVideo(k.key);
    const failed = await finishedVideo(k.key, `boom ${FAIL_MARKER}`);
    await h.deps.webhooks.runDue();

    const [c] = received(done);
    const [f] = received(failed);
    for (const [w, type, video] of [[c, 'video.completed', done], [f, 'video.failed', failed]] as [ReceivedWebhook, string, string][]) {
      expect(w).toBeDefined();
      expect(w.method).toBe('POST');
      expect(w.headers['content-type']).toBe('application/json');
      const event = (await sdk.webhooks.unwrap(w.body, headersOf(w), k.webhookSecret)) as unknown as Record<string, unknown>;
      expect(event).toEqual({ id: w.headers['webhook-id'], object: 'event', created_at: expect.any(Number), type, data: { id: video } });
      expect(w.body).toBe(`{"id":"${event.id}","object":"event","created_at":${event.created_at},"type":"${type}","data":{"id":"${video}"}}`);
      expect(String(event.id)).toMatch(/^evt_/);
      expect(Math.abs((event.created_at as number) - Date.now() / 1000)).toBeLessThan(60);
    }
    const other = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    await expect(sdk.webhooks.unwrap(c!.body, headersOf(c!), other)).rejects.toThrow(/signature/i);
    await expect(sdk.webhooks.unwrap(c!.body.replace('video.completed', 'video.failed'), headersOf(c!), k.webhookSecret)).rejects.toThrow(/signature/i);

    const list = (await (await h.admin(`/admin/webhooks/deliveries?key_id=${k.id}`)).json()) as { data: Record<string, unknown>[]; has_more: boolean };
    expect(list.has_more).toBe(false);
    expect(list.data.map((d) => d.video_id).sort()).toEqual([done, failed].sort());
    expect(list.data[0]).toMatchObject({ key_id: k.id, status: 'delivered', next_attempt_at: null, attempts: [{ status_code: 200, error: null, at: expect.any(String), duration_ms: expect.any(Number) }] });
    expect(await ledgerViolations(h.deps.store)).toEqual([]);
  });

  it('retries after 500s with the same webhook-id and body, records every attempt, and gives up visibly', async () => {
    const k = await keyWithWebhook(`${receiver.url}/flaky`);
    let n = 0;
    receiver.respond((req, res) => (req.path.endsWith('/flaky') && ++n <= 2 ? res.writeHead(500).end('no') : res.writeHead(204).end()));
    const video = await finishedVideo(k.key);
    await until('three attempts', async () => (await h.deps.webhooks.runDue(), received(video).length >= 3 ? true : undefined), 5000, 20);
    const got = received(video);
    expect(got).toHaveLength(3);
    expect(new Set(got.map((g) => g.headers['webhook-id'])).size).toBe(1);
    expect(new Set(got.map((g) => g.body)).size).toBe(1);
    for (const g of got) await sdk.webhooks.unwrap(g.body, headersOf(g), k.webhookSecret);
    const [d] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${k.id}`)).json()) as { data: { status: string; attempts: { status_code: number; error: string | null }[] }[] }).data;
    expect(d).toMatchObject({ status: 'delivered' });
    expect(d!.attempts.map((a) => [a.status_code, a.error])).toEqual([[500, 'HTTP 500'], [500, 'HTTP 500'], [204, null]]);

    // Always 500: after the last retry of the schedule the event is given up.
    const dead = await keyWithWebhook(`${receiver.url}/dead`);
    receiver.respond((req, res) => (req.path.endsWith('/dead') ? res.writeHead(500).end() : res.writeHead(200).end()));
    const v2 = await finishedVideo(dead.key);
    await until('the retry', async () => {
      await h.deps.webhooks.runDue();
      const [e] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${dead.id}&status=failed`)).json()) as { data: { attempts: unknown[] }[] }).data;
      return e;
    }, 5000, 20);
    expect(received(v2)).toHaveLength(SHORT.length + 1);
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toMatch(/reelay_webhook_deliveries_total\{result="gave_up"\} [1-9]/);
    expect(metrics).toMatch(/reelay_webhook_deliveries_total\{result="http_error"\} [1-9]/);
    expect(metrics).toMatch(/reelay_webhook_deliveries_total\{result="delivered"\} [1-9]/);
    receiver.respond((_req, res) => res.writeHead(200).end('ok'));

    // Redelivery: the same event again now, whatever its status.
    const [failedEvent] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${dead.id}`)).json()) as { data: { id: string }[] }).data;
    const redo = await h.admin(`/admin/webhooks/events/${failedEvent!.id}/redeliver`, { method: 'POST' });
    expect(redo.status).toBe(202);
    expect(await redo.json()).toMatchObject({ id: failedEvent!.id, status: 'pending' });
    await h.deps.webhooks.runDue();
    const last = received(v2).at(-1)!;
    expect(last.headers['webhook-id']).toBe(failedEvent!.id);
    expect(last.body).toBe(received(v2)[0]!.body);
    const [after] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${dead.id}`)).json()) as { data: { status: string }[] }).data;
    expect(after!.status).toBe('delivered');
    expect((await h.admin('/admin/webhooks/events/evt_nope/redeliver', { method: 'POST' })).status).toBe(404);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const k = await keyWithWebhook(`${receiver.url}/moved`);
    receiver.respond((req, res) => (req.path.endsWith('/moved') ? res.writeHead(307, { location: `${receiver.url}/elsewhere` }).end() : res.writeHead(200).end()));
    const video = await finishedVideo(k.key);
    await h.deps.webhooks.fill();
    await until('no delivery in flight', () => (h.deps.webhooks.busy === 0 ? true : undefined), 5000, 20);
    expect(received(video).map((r) => r.path)).toEqual(['/hooks/reelay/moved']);
    expect(receiver.received.some((r) => r.path.endsWith('/elsewhere'))).toBe(false);
    const [d] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${k.id}`)).json()) as { data: { status: string; attempts: { status_code: number }[] }[] }).data;
    expect(d).toMatchObject({ status: 'pending', attempts: [{ status_code: 307, error: 'HTTP 307' }] });
    receiver.respond((_req, res) => res.writeHead(200).end('ok'));
  });

  it('signs with both secrets during a rotation’s overlap, and only the new one after 24 hours', async () => {
    const k = await keyWithWebhook();
    const rot = await h.admin(`/admin/keys/${k.id}/webhook-secret`, { method: 'POST' });
    expect(rot.status).toBe(200);
    const body = (await rot.json()) as { webhook_secret: string; previous_secret_expires_at: string; webhook_url: string };
    expect(body.webhook_secret).toMatch(SECRET);
    expect(body.webhook_secret).not.toBe(k.webhookSecret);
    expect(Date.parse(body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(24 * 3600_000 - 60_000);
    const video = await finishedVideo(k.key);
    await h.deps.webhooks.runDue();
    const [w] = received(video);
    expect(String(w!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    await sdk.webhooks.unwrap(w!.body, headersOf(w!), k.webhookSecret);
    await sdk.webhooks.unwrap(w!.body, headersOf(w!), body.webhook_secret);

    // A day later (a worker whose clock is 24 h ahead): only the new secret signs.
    const later = new WebhookWorker({ store: h.deps.store, logger: silentLogger(), now: () => Date.now() + 24 * 3600_000 + 1000, instanceId: 'later', instanceTimeoutMs: 30_000, allowPrivate: true });
    await h.admin(`/admin/webhooks/events/${w!.headers['webhook-id']}/redeliver`, { method: 'POST' });
    await later.runDue();
    const w2 = received(video).at(-1)!;
    expect(w2).not.toBe(w);
    expect(String(w2.headers['webhook-signature']).split(' ')).toHaveLength(1);
    const dayAhead = 2 * 24 * 3600;
    await sdk.webhooks.unwrap(w2.body, headersOf(w2), body.webhook_secret, dayAhead);
    await expect(sdk.webhooks.unwrap(w2.body, headersOf(w2), k.webhookSecret, dayAhead)).rejects.toThrow(/signature/i);
  });

  it('writes exactly one event per job while client polls and the reconciler race, and bills as without webhooks', async () => {
    const hooked = await keyWithWebhook();
    const plain = await h.newKey('10.00');
    const racer = await startSimulator({ jobDurationMs: 300 });
    const r = buildHarness({ upstreamUrl: racer.url, env: { WEBHOOK_ALLOW_PRIVATE: '1' } });
    try {
      // Same store layout in a second harness: move the hooked key's URL into it.
      const k = await r.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'race', credit_usd: '10.00', webhook_url: receiver.url }) });
      const rk = (await k.json()) as { id: string; key: string; webhook_secret: string };
      const p = await r.newKey('10.00');
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        for (const key of [rk.key, p.secret]) {
          const res = await r.createJson(key, { prompt: `race ${i}` });
          ids.push(((await res.json()) as { id: string }).id);
        }
      }
      await new Promise((res) => setTimeout(res, 350));
      const recs = [testReconciler(r.deps), testReconciler(r.deps, { instanceId: 'other' })];
      await Promise.all([
        ...ids.flatMap((id, i) => Array.from({ length: 4 }, () => r.call(`/v1/videos/${id}`, { key: i % 2 === 0 ? rk.key : p.secret }))),
        ...recs.map((rec) => rec.tick()),
      ]);
      for (const rec of recs) await rec.tick();
      const events = r.database.sqlite.prepare('select job_id, count(*) as n from webhook_events group by job_id').all() as { n: number }[];
      expect(events).toHaveLength(8);
      expect(events.every((e) => e.n === 1)).toBe(true);
      await r.deps.webhooks.runDue();
      const ours = receiver.received.filter((w) => ids.includes(JSON.parse(w.body).data.id));
      expect(ours).toHaveLength(8);
      expect(new Set(ours.map((w) => w.headers['webhook-id'])).size).toBe(8);
      for (const w of ours) await sdk.webhooks.unwrap(w.body, headersOf(w), rk.webhook_secret);
      // Billing is the same for the key with a webhook and the key without.
      const a = (await r.deps.store.getKey(rk.id))!;
      const b = (await r.deps.store.getKey(p.id))!;
      expect(a.balanceMicros).toBe(b.balanceMicros);
      expect(a.balanceMicros).toBe(10_000_000 - 8 * 400_000);
      expect(await ledgerViolations(r.deps.store)).toEqual([]);
    } finally {
      r.close();
      await racer.close();
    }
    void hooked;
    void plain;
  });

  it('abandons an attempt at its timeout and reads at most a little of a large answer', async () => {
    const slow = await startWebhookReceiver((req, res) => {
      if (req.path.endsWith('/hang')) return; // never answers
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(Buffer.alloc(8 * 1024 * 1024, 120));
    });
    try {
      const worker = (timeout: number) =>
        new WebhookWorker({ store: h.deps.store, logger: silentLogger(), now: Date.now, instanceId: 'timeouts', instanceTimeoutMs: 30_000, allowPrivate: true, attemptTimeoutMs: timeout, schedule: [60_000] });
      const k = await keyWithWebhook(`${slow.url}/hang`);
      await finishedVideo(k.key);
      const started = Date.now();
      await worker(300).runDue();
      expect(Date.now() - started).toBeLessThan(3000);
      const [d] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${k.id}`)).json()) as { data: { status: string; attempts: { status_code: number | null; error: string }[] }[] }).data;
      expect(d).toMatchObject({ status: 'pending', attempts: [{ status_code: null, error: 'no answer within 0.3 s' }] });

      const big = await keyWithWebhook(`${slow.url}/big`);
      await finishedVideo(big.key);
      await worker(5000).runDue();
      const [b] = ((await (await h.admin(`/admin/webhooks/deliveries?key_id=${big.id}`)).json()) as { data: { status: string }[] }).data;
      expect(b!.status).toBe('delivered');
    } finally {
      await slow.close();
    }
  });
});

describe('address safety (WEBHOOK_ALLOW_PRIVATE off)', () => {
  let strict: Harness;
  beforeAll(() => {
    strict = buildHarness({ upstreamUrl: sim.url });
  });
  afterAll(() => strict.close());

  it.each([
    ['http://127.0.0.1:9/x', /127\.0\.0\.1/],
    ['http://localhost:9/x', /localhost resolves to/],
    ['http://[::1]/x', /::1/],
    ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254/],
    ['http://10.0.0.8/x', /10\.0\.0\.8/],
    ['http://[::ffff:192.168.1.1]/x', /special/],
    ['ftp://example.com/x', /http or https/],
    ['http://user:pw@example.com/x', /user name or password/],
    ['not a url', /absolute/],
  ])('refuses %s at configuration (400, param webhook_url)', async (url, message) => {
    const res = await strict.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'x', webhook_url: url }) });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; param: string; message: string } };
    expect(error).toMatchObject({ code: 'invalid_request', param: 'webhook_url' });
    expect(error.message).toMatch(message);
    const key = await strict.newKey('1.00');
    const patch = await strict.admin(`/admin/keys/${key.id}`, { method: 'PATCH', body: JSON.stringify({ webhook_url: url }) });
    expect(patch.status).toBe(400);
    expect((await strict.deps.store.getKey(key.id))!.webhookUrl).toBeNull();
  });

  it('refuses at delivery a URL that now resolves to a private address, without connecting', async () => {
    const k = await strict.newKey('10.00');
    // Configured while it was allowed (or while the name resolved elsewhere): set under the store.
    await strict.deps.store.updateKey(k.id, { webhookUrl: receiver.url }, undefined, { id: 'whs_test', secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}` });
    const before = receiver.received.length;
    const video = await (async () => {
      const res = await strict.createJson(k.secret, { prompt: 'p' });
      const { id } = (await res.json()) as { id: string };
      await strict.call(`/v1/videos/${id}`, { key: k.secret });
      return id;
    })();
    await strict.deps.webhooks.runDue();
    expect(receiver.received.length).toBe(before);
    const [d] = (await strict.deps.store.listWebhookDeliveries({ keyId: k.id, limit: 10 }));
    expect(d!.event.videoId).toBe(video);
    expect(d!.attempts).toHaveLength(1);
    expect(d!.attempts[0]!.error).toMatch(/^refused: .*127\.0\.0\.1.*special address/);

    // A name resolving to a private address at delivery: refused, never connected to.
    const worker = new WebhookWorker({
      store: strict.deps.store, logger: silentLogger(), now: Date.now, instanceId: 'dns', instanceTimeoutMs: 30_000, allowPrivate: false,
      lookup: async () => [{ address: '10.1.2.3', family: 4 }],
    });
    await strict.deps.store.updateKey(k.id, { webhookUrl: 'http://hooks.example.com/x' });
    await strict.deps.store.requeueWebhookEvent(d!.event.id, Date.now());
    await worker.runDue();
    const after = (await strict.deps.store.getWebhookDelivery(d!.event.id))!;
    expect(after.attempts.at(-1)!.error).toMatch(/hooks\.example\.com resolves to 10\.1\.2\.3/);
  });
});
