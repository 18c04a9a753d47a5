/**
 * SIGKILL between a settlement and its webhook's delivery: the event was committed with the
 * settlement, so the restarted process delivers it (contract §12: a crash can neither lose it nor
 * make two events). The endpoint kills reelay while the first attempt is in flight, before
 * answering it: that attempt was never recorded, its lease belongs to a dead instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { ReelayProcess, freePort } from './child.js';
import { ADMIN_TOKEN } from './support.js';
import { startWebhookReceiver, headersOf } from '../helpers/webhook-receiver.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';

let sim: SimulatorHandle;
let dir: string;
let reelay: ReelayProcess;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 0 });
  dir = mkdtempSync(join(tmpdir(), 'reelay-webhook-crash-'));
  receiver = await startWebhookReceiver();
  reelay = new ReelayProcess(await freePort(), join(dir, 'reelay.db'), sim.url, { WEBHOOK_ALLOW_PRIVATE: '1', INSTANCE_TIMEOUT_MS: '1000', LOG_LEVEL: 'warn' });
  await reelay.start();
}, 60_000);
afterAll(async () => {
  await reelay.stop('SIGKILL');
  await receiver.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL between settlement and delivery', () => {
  it('delivers the event after a restart, once recorded, with the same id and body', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const created = (await (await fetch(`${reelay.base}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'crash', credit_usd: '5.00', webhook_url: receiver.url }) })).json()) as { id: string; key: string; webhook_secret: string };
    // The first request kills reelay before it is answered.
    let killed = false;
    receiver.respond((_req, res) => {
      if (!killed) {
        killed = true;
        void reelay.stop('SIGKILL').then(() => res.destroy());
        return;
      }
      res.writeHead(200).end();
    });
    const client = { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' };
    const { id: video } = (await (await fetch(`${reelay.base}/v1/videos`, { method: 'POST', headers: client, body: JSON.stringify({ prompt: 'p' }) })).json()) as { id: string };
    // The poll settles the job (it completes at once); the settlement's webhook may kill reelay
    // before this very answer is written, so the poll itself may fail: only the settlement matters.
    await fetch(`${reelay.base}/v1/videos/${video}`, { headers: client }).catch(() => null);
    const deadline = Date.now() + 15_000;
    while (!(killed && !reelay.alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(reelay.alive).toBe(false);
    expect(receiver.received).toHaveLength(1);

    await reelay.start();
    while (receiver.received.length < 2 && Date.now() < deadline + 15_000) await new Promise((r) => setTimeout(r, 50));
    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.received as [typeof receiver.received[0], typeof receiver.received[0]];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    const sdk = new OpenAI({ apiKey: 'unused' });
    expect(await sdk.webhooks.unwrap(second.body, headersOf(second), created.webhook_secret)).toMatchObject({ type: 'video.completed', data: { id: video } });

    // In the database: one event for the job, delivered, its one recorded attempt a 200; billing as usual.
    await new Promise((r) => setTimeout(r, 200));
    const database = openMigratedDatabase(reelay.dbPath);
    const store = createStore(database);
    const [d] = await store.listWebhookDeliveries({ keyId: created.id, limit: 10 });
    expect(await store.listWebhookDeliveries({ keyId: created.id, limit: 10 })).toHaveLength(1);
    expect(d!.event.status).toBe('delivered');
    expect(d!.attempts.map((a) => a.statusCode)).toEqual([200]);
    expect((await store.getKey(created.id))!.balanceMicros).toBe(5_000_000 - 400_000);
    expect(await store.ledgerViolations()).toEqual([]);
    database.close();
  }, 60_000);
});
