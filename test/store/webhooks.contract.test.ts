/**
 * Webhooks on both engines (contract §12): keys' signing secrets, the event written in the
 * settling transaction (one per job, whatever races), the delivery leases and the attempt record.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { T0, fundedKey, newKey, submittedJob, heldJob, who } from './fixtures.js';
import type { Outcome } from '../../src/store/types.js';

const H24 = 24 * 3600_000;
const secret = (n: number) => ({ id: `whs_${n}_${Math.random().toString(16).slice(2)}`, secret: `whsec_${Buffer.alloc(32, n).toString('base64')}` });
const completed: Outcome = { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: T0 + 5000 };

describe.each(engines)('webhooks on $name', (engine) => {
  let s: OpenStore;
  beforeEach(async () => {
    s = await engine.open();
  });
  afterEach(async () => s.close());

  const keyWithUrl = async (url: string | null = 'https://hooks.example.com/reelay') => {
    const key = await fundedKey(s.store, 10_000_000, { webhookUrl: url });
    if (url) await s.store.updateKey(key.id, { webhookUrl: url }, undefined, secret(1));
    return key;
  };

  it('issues a secret once, when a key first gets a URL; keeps it when the URL changes; drops it with the URL', async () => {
    const s1 = secret(1);
    const created = await s.store.createKey(newKey({ webhookUrl: 'https://a.example.com/h' }), { who: who(), webhookSecret: s1 });
    expect(created.webhookUrl).toBe('https://a.example.com/h');
    expect(created.issuedWebhookSecret).toBe(s1.secret);
    expect(await s.store.webhookTarget(created.id, T0)).toEqual({ url: 'https://a.example.com/h', secrets: [s1.secret] });

    const changed = await s.store.updateKey(created.id, { webhookUrl: 'https://b.example.com/h' }, undefined, secret(2));
    expect(changed!.issuedWebhookSecret).toBeUndefined();
    expect(await s.store.webhookTarget(created.id, T0)).toEqual({ url: 'https://b.example.com/h', secrets: [s1.secret] });

    const removed = await s.store.updateKey(created.id, { webhookUrl: null }, { who: who(), entry: { action: 'key.update', targetId: created.id, details: { webhook_url: null } } });
    expect(removed!.webhookUrl).toBeNull();
    expect(await s.store.webhookTarget(created.id, T0)).toEqual({ url: null, secrets: [] });
    expect(await s.sql('select count(*) as n from webhook_secrets where key_id = ?', [created.id])).toEqual([{ n: engine.name === 'postgres' ? '0' : 0 }]);

    const s3 = secret(3);
    const again = await s.store.updateKey(created.id, { webhookUrl: 'https://c.example.com/h', name: 'renamed' }, undefined, s3);
    expect(again).toMatchObject({ name: 'renamed', webhookUrl: 'https://c.example.com/h', issuedWebhookSecret: s3.secret });

    const plain = await s.store.createKey(newKey(), { who: who(), webhookSecret: secret(4) });
    expect(plain.issuedWebhookSecret).toBeUndefined();
    expect(await s.store.webhookTarget(plain.id, T0)).toEqual({ url: null, secrets: [] });
    expect(await s.store.updateKey('key_missing', { webhookUrl: 'https://x.example.com' }, undefined, secret(5))).toBeUndefined();
  });

  it('rotates with an overlap: both secrets sign until it ends, then only the new one', async () => {
    const key = await keyWithUrl();
    const old = (await s.store.webhookTarget(key.id, T0)).secrets;
    expect(old).toHaveLength(1);
    const s2 = secret(2);
    const rotated = await s.store.rotateWebhookSecret(key.id, s2, T0 + 1000, H24, { who: who(T0 + 1000), entry: { action: 'key.webhook_secret.rotate', targetId: key.id, details: null } });
    expect(rotated).toMatchObject({ id: key.id });
    expect((await s.store.webhookTarget(key.id, T0 + 1000)).secrets).toEqual([s2.secret, old[0]]);
    expect((await s.store.webhookTarget(key.id, T0 + 1000 + H24 - 1)).secrets).toEqual([s2.secret, old[0]]);
    expect((await s.store.webhookTarget(key.id, T0 + 1000 + H24)).secrets).toEqual([s2.secret]);
    expect((await s.store.searchAudit({ targetId: key.id, limit: 10 })).map((a) => a.action)).toContain('key.webhook_secret.rotate');

    const none = await fundedKey(s.store, 1_000_000);
    expect(await s.store.rotateWebhookSecret(none.id, secret(3), T0, H24)).toBe('no_endpoint');
    expect(await s.store.rotateWebhookSecret('key_missing', secret(3), T0, H24)).toBeUndefined();
  });

  it('writes the event in the settlement, shaped as OpenAI’s, for completed, failed and expired jobs with a video', async () => {
    const key = await keyWithUrl();
    const cases: [Outcome, string | null][] = [
      [completed, 'video.completed'],
      [{ kind: 'failed', finalObject: '{}', errorCode: 'moderation' }, 'video.failed'],
      [{ kind: 'expired', reason: 'vanished' }, 'video.failed'],
    ];
    for (const [outcome, type] of cases) {
      const job = await submittedJob(s.store, key.id);
      const r = await s.store.settleJob(job.id, outcome, who(T0 + 7_500));
      expect(r.settled).toBe(true);
      if (!r.settled) continue;
      const event = await s.store.getWebhookEvent(r.webhookEventId!);
      expect(event).toMatchObject({ keyId: key.id, jobId: job.id, videoId: job.videoId, type, status: 'pending', nextAttemptAt: T0 + 7_500, attemptCount: 0 });
      expect(event!.id).toMatch(/^evt_[0-9a-f]{24}$/);
      expect(event!.body).toBe(`{"id":"${event!.id}","object":"event","created_at":${Math.floor((T0 + 7_500) / 1000)},"type":"${type}","data":{"id":"${job.videoId}"}}`);
    }
  });

  it('writes no event for a rejected or unknown create, for an expired job without a video, or for a key without a URL', async () => {
    const key = await keyWithUrl();
    for (const outcome of [{ kind: 'rejected', errorCode: 'x' }, { kind: 'unknown', reason: 'y' }, { kind: 'expired', reason: 'max_job_age' }] as Outcome[]) {
      const job = await heldJob(s.store, key.id);
      const r = await s.store.settleJob(job.id, outcome, who());
      expect(r).toMatchObject({ settled: true, webhookEventId: null });
    }
    const noUrl = await fundedKey(s.store, 1_000_000);
    const job = await submittedJob(s.store, noUrl.id);
    expect(await s.store.settleJob(job.id, completed, who())).toMatchObject({ settled: true, webhookEventId: null });
  });

  it('writes exactly one event per job when settlements race', async () => {
    const key = await keyWithUrl();
    const jobs = await Promise.all(Array.from({ length: 5 }, () => submittedJob(s.store, key.id)));
    const results = await Promise.all(jobs.flatMap((job) => Array.from({ length: 6 }, (_, i) => s.store.settleJob(job.id, i % 2 ? completed : { kind: 'expired', reason: 'vanished' }, who()))));
    expect(results.filter((r) => r.settled)).toHaveLength(5);
    for (const job of jobs) {
      const rows = await s.sql('select id from webhook_events where job_id = ?', [job.id]);
      expect(rows).toHaveLength(1);
    }
    expect(await s.store.ledgerViolations()).toEqual([]);
  });

  it('leases due events to one live instance at a time; a dead holder’s or an ended lease is taken over', async () => {
    const key = await keyWithUrl();
    await s.store.heartbeat({ id: 'i1', host: 'h', pid: 1, version: '0', startedAt: T0 }, T0 + 10_000);
    await s.store.heartbeat({ id: 'i2', host: 'h', pid: 2, version: '0', startedAt: T0 }, T0 + 10_000);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = await submittedJob(s.store, key.id);
      const r = await s.store.settleJob(job.id, completed, who(T0 + 10_000));
      if (r.settled) ids.push(r.webhookEventId!);
    }
    const claim = (instanceId: string, now: number, limit = 10) => s.store.claimDueWebhookEvents({ instanceId, now, claimUntil: now + 60_000, deadBefore: now - 30_000, limit });
    expect(await claim('i1', T0 + 9_999)).toEqual([]); // not due yet
    const [a, b] = await Promise.all([claim('i1', T0 + 11_000, 2), claim('i2', T0 + 11_000, 10)]);
    const mine = new Set([...a, ...b].map((e) => e.id));
    expect(mine.size).toBe(a.length + b.length); // no event twice
    expect([...mine].filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    expect(await claim('i2', T0 + 12_000)).toEqual([]); // all leased to live instances

    // i1 stops: its leases go to whoever asks next.
    await s.store.markInstanceStopped('i1', T0 + 13_000);
    await s.store.heartbeat({ id: 'i2', host: 'h', pid: 2, version: '0', startedAt: T0 }, T0 + 13_000);
    const taken = await claim('i2', T0 + 13_000);
    expect(taken.map((e) => e.id).sort()).toEqual(a.map((e) => e.id).sort());
    // A lease that ran out is taken over even from a live holder.
    await s.store.heartbeat({ id: 'i3', host: 'h', pid: 3, version: '0', startedAt: T0 }, T0 + 80_000);
    await s.store.heartbeat({ id: 'i2', host: 'h', pid: 2, version: '0', startedAt: T0 }, T0 + 80_000);
    expect((await claim('i3', T0 + 80_000)).map((e) => e.id).sort()).toEqual([...ids].sort());
  });

  it('records every attempt and moves the event on: retry, delivered, given up; only the holder moves it back to pending', async () => {
    const key = await keyWithUrl();
    await s.store.heartbeat({ id: 'w1', host: 'h', pid: 1, version: '0', startedAt: T0 }, T0);
    const job = await submittedJob(s.store, key.id);
    const { webhookEventId: id } = (await s.store.settleJob(job.id, completed, who(T0))) as { webhookEventId: string };
    const claim = (instanceId: string, now: number) => s.store.claimDueWebhookEvents({ instanceId, now, claimUntil: now + 60_000, deadBefore: now - 30_000, limit: 10 });

    expect((await claim('w1', T0)).map((e) => e.id)).toContain(id);
    expect(await s.store.recordWebhookAttempt(id, 'w1', { at: T0, statusCode: 500, error: 'HTTP 500', durationMs: 12 }, { status: 'pending', nextAttemptAt: T0 + 5000 })).toBe(true);
    expect(await s.store.getWebhookEvent(id)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 5000, retryStep: 1, attemptCount: 1, claimedBy: null });

    // Someone else's lease: the attempt is recorded but does not move the event.
    expect((await claim('w1', T0 + 5000)).map((e) => e.id)).toContain(id);
    expect(await s.store.recordWebhookAttempt(id, 'w2', { at: T0 + 5000, statusCode: null, error: 'timeout', durationMs: 10_000 }, { status: 'failed' })).toBe(false);
    expect(await s.store.getWebhookEvent(id)).toMatchObject({ status: 'pending', claimedBy: 'w1', attemptCount: 2 });
    expect(await s.store.recordWebhookAttempt(id, 'w1', { at: T0 + 5001, statusCode: 204, error: null, durationMs: 3 }, { status: 'delivered' })).toBe(true);
    expect(await s.store.getWebhookEvent(id)).toMatchObject({ status: 'delivered', deliveredAt: T0 + 5001, nextAttemptAt: null, attemptCount: 3 });

    // Redelivery: due now whatever its status, its schedule from the start.
    const again = await s.store.requeueWebhookEvent(id, T0 + 9000, { who: who(T0 + 9000), entry: { action: 'webhook.redeliver', targetId: id, details: null } });
    expect(again).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 9000, retryStep: 0 });
    expect((await claim('w1', T0 + 9000)).map((e) => e.id)).toContain(id);
    await s.store.recordWebhookAttempt(id, 'w1', { at: T0 + 9000, statusCode: 410, error: 'HTTP 410', durationMs: 4 }, { status: 'failed' });
    expect(await s.store.requeueWebhookEvent('evt_missing', T0)).toBeUndefined();

    const [delivery] = await s.store.listWebhookDeliveries({ keyId: key.id, limit: 10 });
    expect(delivery!.event).toMatchObject({ id, status: 'failed', attemptCount: 4 });
    expect(delivery!.attempts.map((a) => [a.statusCode, a.error, a.instanceId])).toEqual([
      [500, 'HTTP 500', 'w1'],
      [null, 'timeout', 'w2'],
      [204, null, 'w1'],
      [410, 'HTTP 410', 'w1'],
    ]);
  });

  it('lists deliveries newest first, filtered by key and status, paged with a cursor', async () => {
    const key = await keyWithUrl();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const job = await submittedJob(s.store, key.id);
      const r = await s.store.settleJob(job.id, completed, who(T0 + 100_000 + (i < 4 ? i : 3) * 1000));
      if (r.settled) ids.push(r.webhookEventId!);
    }
    const newestFirst = [...ids].reverse();
    // the last two share a created_at: the id breaks the tie (newer id first)
    const byTime = newestFirst.slice(0, 2).sort().reverse().concat(newestFirst.slice(2));
    const page1 = await s.store.listWebhookDeliveries({ keyId: key.id, limit: 3 });
    expect(page1.map((d) => d.event.id)).toEqual(byTime.slice(0, 3));
    const last = page1[2]!.event;
    const page2 = await s.store.listWebhookDeliveries({ keyId: key.id, limit: 3, afterId: last.id });
    expect(page2.map((d) => d.event.id)).toEqual(byTime.slice(3));
    expect(await s.store.listWebhookDeliveries({ keyId: key.id, status: 'delivered', limit: 10 })).toEqual([]);
    expect((await s.store.listWebhookDeliveries({ keyId: key.id, status: 'pending', limit: 10 })).length).toBe(5);
  });
});
