/**
 * Webhooks with two reelay instances on one PostgreSQL database (contract §12, "With several
 * instances, each delivery attempt is made by one instance"): both deliver, no attempt is made
 * twice, and the events a dead instance had leased are delivered by the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openStore } from '../../src/db/open.js';
import { silentLogger } from '../../src/logging/logger.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { ADMIN_TOKEN } from '../helpers/app-harness.js';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { startWebhookReceiver, headersOf } from '../helpers/webhook-receiver.js';

let db: TestPgDatabase;
let sim: SimulatorHandle;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
type Instance = Awaited<ReturnType<typeof instance>>;
let a: Instance;
let b: Instance;

async function instance(id: string) {
  const config = loadConfig({ ADMIN_TOKEN, UPSTREAM_BASE_URL: sim.url, UPSTREAM_API_KEY: 'sk-upstream-0001', DATABASE_URL: db.url, INSTANCE_ID: id, WEBHOOK_ALLOW_PRIVATE: '1' });
  const storage = await openStore(config);
  const deps = buildDeps(config, { storage, logger: silentLogger(), webhooks: { schedule: [40], intervalMs: 15, concurrency: 4 } });
  await deps.store.heartbeat(deps.instance, Date.now());
  const app = createApp(deps);
  const admin = (path: string, init: RequestInit = {}) =>
    app.request(path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' } });
  return { deps, app, admin, close: async () => (await deps.webhooks.stop(), await storage.close()) };
}

beforeAll(async () => {
  db = await freshPgDatabase();
  sim = await startSimulator({ jobDurationMs: 0 });
  receiver = await startWebhookReceiver();
  a = await instance('instance-a');
  b = await instance('instance-b');
});
afterAll(async () => {
  await a.close();
  await b.close();
  await sim.close();
  await receiver.close();
  await db.drop();
});

async function settledVideos(n: number, secretKey: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const app = i % 2 ? a.app : b.app;
    const res = await app.request('/v1/videos', { method: 'POST', headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `p${i}` }) });
    const { id } = (await res.json()) as { id: string };
    // Both instances poll it at once: one of them settles it.
    await Promise.all([a.app, b.app].map((x) => x.request(`/v1/videos/${id}`, { headers: { authorization: `Bearer ${secretKey}` } })));
    ids.push(id);
  }
  return ids;
}

describe('two instances on one PostgreSQL database', () => {
  it('share the deliveries: every attempt is made once, by one instance, retries included', async () => {
    const created = (await (await a.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'k', credit_usd: '50.00', webhook_url: `${receiver.url}/two` }) })).json()) as { id: string; key: string; webhook_secret: string };
    // The first attempt of every event fails (500), the second succeeds.
    const seen = new Map<string, number>();
    receiver.respond((req, res) => {
      const id = String(req.headers['webhook-id']);
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      setTimeout(() => res.writeHead(n === 1 ? 500 : 200).end(), 20);
    });
    a.deps.webhooks.start();
    b.deps.webhooks.start();
    const videos = await settledVideos(30, created.key);
    const deadline = Date.now() + 15_000;
    let delivered = 0;
    while (Date.now() < deadline) {
      delivered = (await a.deps.store.listWebhookDeliveries({ keyId: created.id, status: 'delivered', limit: 100 })).length;
      if (delivered === 30) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(delivered).toBe(30);
    const deliveries = await a.deps.store.listWebhookDeliveries({ keyId: created.id, limit: 100 });
    expect(deliveries.map((d) => d.event.videoId).sort()).toEqual([...videos].sort());
    // Each event: exactly two attempts recorded and exactly two requests received.
    for (const d of deliveries) {
      expect(d.attempts.map((x) => x.statusCode)).toEqual([500, 200]);
      expect(seen.get(d.event.id)).toBe(2);
    }
    const byInstance = new Set(deliveries.flatMap((d) => d.attempts.map((x) => x.instanceId)));
    expect(byInstance).toEqual(new Set(['instance-a', 'instance-b']));
    const sdk = new OpenAI({ apiKey: 'unused' });
    for (const w of receiver.received.filter((r) => r.path.endsWith('/two'))) await sdk.webhooks.unwrap(w.body, headersOf(w), created.webhook_secret);
    expect(await a.deps.store.ledgerViolations()).toEqual([]);
    await a.deps.webhooks.stop();
    await b.deps.webhooks.stop();
  });

  it('delivers the events a dead instance had leased', async () => {
    receiver.respond((_req, res) => res.writeHead(200).end());
    const created = (await (await b.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'k2', credit_usd: '10.00', webhook_url: `${receiver.url}/takeover` }) })).json()) as { id: string; key: string };
    await settledVideos(3, created.key);
    // Instance A leases them, then dies before attempting (its process is gone: it stops beating).
    const now = Date.now();
    const leased = await a.deps.store.claimDueWebhookEvents({ instanceId: 'instance-a', now, claimUntil: now + 60_000, deadBefore: now - 30_000, limit: 10 });
    expect(leased).toHaveLength(3);
    expect(await b.deps.webhooks.runDue()).toBe(0); // A is alive: its leases hold
    await a.deps.store.markInstanceStopped('instance-a', Date.now());
    expect(await b.deps.webhooks.runDue()).toBe(3);
    const deliveries = await b.deps.store.listWebhookDeliveries({ keyId: created.id, limit: 10 });
    expect(deliveries.every((d) => d.event.status === 'delivered' && d.attempts.length === 1 && d.attempts[0]!.instanceId === 'instance-b')).toBe(true);
  });
});
