import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { BalanceError } from '../../src/store/types.js';
import type { Store } from '../../src/store/store.js';
import { T0, countRows, fundedKey, heldJob, ledgerOfJob, ledgerOfKey, money, newJob, newKey, submittedJob, who } from './fixtures.js';

describe.each(engines)('billing store on $name', (engine) => {
  let os: OpenStore;
  let store: Store;
  beforeEach(async () => {
    os = await engine.open();
    store = os.store;
  });
  afterEach(async () => {
    await os.close();
  });

  describe('placeHold', () => {
    it('reserves the price, writes the pending job and its hold entry', async () => {
      const k = await fundedKey(store, 1_000_000);
      const j = newJob(k.id, { heldMicros: 400_000, sourceVideoId: 'video_src', flatPriceMicros: null });
      const w = who(T0 + 3, 'client');
      const r = await store.placeHold(j, w, { maxInflightJobs: null });
      expect(r).toEqual({
        ok: true,
        job: {
          ...j,
          videoId: null,
          billedSeconds: null,
          outputSeconds: null,
          status: 'pending',
          progress: null,
          chargedMicros: 0,
          upstreamRequestId: null,
          finalObject: null,
          errorCode: null,
          createdAt: T0 + 3,
          updatedAt: T0 + 3,
          completedAt: null,
          settledAt: null,
          lateCompletedAt: null,
          deletedAt: null,
          nextPollAt: null,
          pollFailures: 0,
          notFoundCount: 0,
          lastNotFoundAt: null,
          instanceId: null,
          claimedBy: null,
          claimUntil: null,
          upstreamId: 'default',
        },
      });
      expect(await store.getJob(j.id)).toEqual(r.ok && r.job);
      expect(await money(store, k.id)).toEqual({ balance: 1_000_000, held: 400_000 });
      expect(await ledgerOfJob(os, j.id)).toEqual([
        { kind: 'hold', amountMicros: 400_000, keyId: k.id, jobId: j.id, terminal: false, requestId: w.requestId, actor: 'client', note: null, createdAt: T0 + 3 },
      ]);
    });

    it('takes exactly the available balance, and a free job writes no hold entry', async () => {
      const k = await fundedKey(store, 500);
      expect((await store.placeHold(newJob(k.id, { heldMicros: 500 }), who(), { maxInflightJobs: null })).ok).toBe(true);
      const free = newJob(k.id, { heldMicros: 0 });
      expect((await store.placeHold(free, who(), { maxInflightJobs: null })).ok).toBe(true);
      expect(await ledgerOfJob(os, free.id)).toEqual([]);
      expect(await money(store, k.id)).toEqual({ balance: 500, held: 500 });
    });

    it('refuses what the available balance cannot cover, and leaves nothing behind', async () => {
      const k = await fundedKey(store, 1_000);
      await heldJob(store, k.id, { heldMicros: 600 });
      const j = newJob(k.id, { heldMicros: 401 });
      expect(await store.placeHold(j, who(), { maxInflightJobs: null })).toEqual({ ok: false, reason: 'insufficient_quota' });
      expect(await store.getJob(j.id)).toBeUndefined();
      expect(await ledgerOfJob(os, j.id)).toEqual([]);
      expect(await money(store, k.id)).toEqual({ balance: 1_000, held: 600 });
      expect(await countRows(os, 'jobs')).toBe(1);
    });

    it('refuses an unknown key as insufficient_quota (as the SQLite engine does)', async () => {
      const j = newJob('key_missing');
      expect(await store.placeHold(j, who(), { maxInflightJobs: null })).toEqual({ ok: false, reason: 'insufficient_quota' });
      expect(await store.placeHold(j, who(), { maxInflightJobs: 3 })).toEqual({ ok: false, reason: 'insufficient_quota' });
      expect(await countRows(os, 'jobs')).toBe(0);
    });

    it('enforces the in-flight limit on open jobs, before the balance, and frees a slot on settle', async () => {
      const k = await fundedKey(store, 10_000_000);
      const limits = { maxInflightJobs: 2 };
      const a = await store.placeHold(newJob(k.id), who(), limits);
      const b = await store.placeHold(newJob(k.id), who(), limits);
      expect([a.ok, b.ok]).toEqual([true, true]);
      const c = newJob(k.id);
      expect(await store.placeHold(c, who(), limits)).toEqual({ ok: false, reason: 'inflight_limit' });
      // the limit is checked first: a price the balance cannot cover still says inflight_limit
      expect(await store.placeHold(newJob(k.id, { heldMicros: 99_000_000 }), who(), limits)).toEqual({ ok: false, reason: 'inflight_limit' });
      expect(await store.getJob(c.id)).toBeUndefined();
      expect(await money(store, k.id)).toEqual({ balance: 10_000_000, held: 800_000 });
      // no limit: admitted
      expect((await store.placeHold(newJob(k.id), who(), { maxInflightJobs: null })).ok).toBe(true);
      if (!a.ok) throw new Error();
      await store.settleJob(a.job.id, { kind: 'failed', finalObject: null, errorCode: null }, who());
      // 2 open again (b and the unlimited one): still refused; settle one more, then admitted
      expect((await store.placeHold(newJob(k.id), who(), limits)).ok).toBe(false);
      if (!b.ok) throw new Error();
      await store.settleJob(b.job.id, { kind: 'rejected', errorCode: null }, who());
      expect((await store.placeHold(newJob(k.id), who(), limits)).ok).toBe(true);
      // a limit of 0 refuses everything
      expect(await store.placeHold(newJob(k.id), who(), { maxInflightJobs: 0 })).toEqual({ ok: false, reason: 'inflight_limit' });
    });

    it('a job id already used is an error and changes no money', async () => {
      const k = await fundedKey(store, 10_000_000);
      const j = await heldJob(store, k.id);
      await expect(store.placeHold(newJob(k.id, { id: j.id }), who(), { maxInflightJobs: null })).rejects.toThrow();
      expect(await money(store, k.id)).toEqual({ balance: 10_000_000, held: 400_000 });
      expect(await ledgerOfKey(os, k.id).then((l) => l.length)).toBe(2);
    });
  });

  describe('recordSubmitted', () => {
    it('gives the pending job its video id and status', async () => {
      const k = await fundedKey(store, 1_000_000);
      const j = await heldJob(store, k.id);
      const row = await store.recordSubmitted(j.id, { videoId: 'video_1', status: 'in_progress', progress: 12, upstreamRequestId: 'up_1', nextPollAt: T0 + 500 }, T0 + 10);
      expect(row).toEqual({ ...j, videoId: 'video_1', status: 'in_progress', progress: 12, upstreamRequestId: 'up_1', nextPollAt: T0 + 500, updatedAt: T0 + 10 });
      expect(await store.getJobByVideoId('video_1')).toEqual(row);
    });

    it('undefined when the job is no longer pending; duplicate when another job has the video id', async () => {
      const k = await fundedKey(store, 10_000_000);
      const a = await submittedJob(store, k.id);
      expect(await store.recordSubmitted(a.id, { videoId: 'video_other', status: 'queued', progress: null, upstreamRequestId: null, nextPollAt: T0 }, T0)).toBeUndefined();
      expect(await store.recordSubmitted('job_nope', { videoId: 'video_x', status: 'queued', progress: null, upstreamRequestId: null, nextPollAt: T0 }, T0)).toBeUndefined();
      const b = await heldJob(store, k.id);
      expect(await store.recordSubmitted(b.id, { videoId: a.videoId!, status: 'queued', progress: null, upstreamRequestId: null, nextPollAt: T0 }, T0)).toBe('duplicate');
      expect(await store.getJob(b.id)).toEqual(b);
    });
  });

  describe('settleJob', () => {
    it('completed: captures billed seconds × rate, releases the remainder, exactly once', async () => {
      const k = await fundedKey(store, 1_000_000);
      const j = await submittedJob(store, k.id, { heldMicros: 400_000, rateMicros: 100_000 });
      const w = who(T0 + 60, 'reconciler');
      const r = await store.settleJob(j.id, { kind: 'completed', billedSeconds: 3, finalObject: '{"id":"v"}', completedAt: T0 + 55 }, w);
      expect(r).toEqual({
        settled: true,
        chargedMicros: 300_000,
        webhookEventId: null,
        job: {
          ...j,
          status: 'completed',
          billedSeconds: 3,
          outputSeconds: 3,
          finalObject: '{"id":"v"}',
          completedAt: T0 + 55,
          progress: 100,
          chargedMicros: 300_000,
          settledAt: T0 + 60,
          updatedAt: T0 + 60,
          nextPollAt: null,
        },
      });
      expect(await money(store, k.id)).toEqual({ balance: 700_000, held: 0 });
      const entries = await ledgerOfJob(os, j.id);
      expect(entries.map((e) => [e.kind, e.amountMicros, e.terminal, e.note, e.actor, e.requestId, e.createdAt])).toEqual([
        ['hold', 400_000, false, null, 'test', entries[0].requestId, T0],
        ['capture', 300_000, true, '3s billed', 'reconciler', w.requestId, T0 + 60],
        ['release', 100_000, false, 'unused remainder of the hold', 'reconciler', w.requestId, T0 + 60],
      ]);

      const again = await store.settleJob(j.id, { kind: 'failed', finalObject: null, errorCode: 'late' }, who(T0 + 70));
      expect(again).toEqual({ settled: false, job: r.settled && r.job });
      expect(await money(store, k.id)).toEqual({ balance: 700_000, held: 0 });
      expect(await ledgerOfJob(os, j.id)).toHaveLength(3);
    });

    it('completed: the charge is capped at the hold; a flat price overrides seconds; outputSeconds kept when given', async () => {
      const k = await fundedKey(store, 10_000_000);
      const capped = await submittedJob(store, k.id, { heldMicros: 400_000, rateMicros: 100_000 });
      const r1 = await store.settleJob(capped.id, { kind: 'completed', billedSeconds: 12, outputSeconds: 20, finalObject: '{}', completedAt: T0 }, who());
      expect(r1.settled && [r1.chargedMicros, r1.job.billedSeconds, r1.job.outputSeconds]).toEqual([400_000, 12, 20]);
      expect((await ledgerOfJob(os, capped.id)).map((e) => [e.kind, e.amountMicros, e.terminal])).toEqual([
        ['hold', 400_000, false],
        ['capture', 400_000, true],
      ]);
      const flat = await submittedJob(store, k.id, { heldMicros: 250_000, rateMicros: 0, flatPriceMicros: 200_000 });
      const r2 = await store.settleJob(flat.id, { kind: 'completed', billedSeconds: 8, outputSeconds: null, finalObject: '{}', completedAt: T0 }, who());
      expect(r2.settled && [r2.chargedMicros, r2.job.outputSeconds]).toEqual([200_000, null]);
      expect(await money(store, k.id)).toEqual({ balance: 10_000_000 - 600_000, held: 0 });
    });

    it('completed with nothing to charge releases the hold as the terminal entry', async () => {
      const k = await fundedKey(store, 1_000_000);
      const j = await submittedJob(store, k.id, { heldMicros: 400_000, rateMicros: 0 });
      const r = await store.settleJob(j.id, { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: T0 }, who());
      expect(r.settled && r.chargedMicros).toBe(0);
      expect((await ledgerOfJob(os, j.id)).map((e) => [e.kind, e.amountMicros, e.terminal, e.note])).toEqual([
        ['hold', 400_000, false, null],
        ['release', 400_000, true, '4s billed'],
      ]);
    });

    it.each([
      ['failed', { kind: 'failed', finalObject: '{"error":1}', errorCode: 'moderation' }, { status: 'failed', finalObject: '{"error":1}', errorCode: 'moderation', completedAt: T0 + 9 }],
      ['expired', { kind: 'expired', reason: 'max_age' }, { status: 'expired', errorCode: 'max_age' }],
      ['rejected', { kind: 'rejected', errorCode: 'upstream_400' }, { status: 'rejected', errorCode: 'upstream_400' }],
      ['unknown', { kind: 'unknown', reason: 'timeout' }, { status: 'unknown', errorCode: 'timeout' }],
    ] as const)('%s: releases the whole hold, charges nothing', async (kind, outcome, fields) => {
      const k = await fundedKey(store, 1_000_000);
      const j = kind === 'rejected' || kind === 'unknown' ? await heldJob(store, k.id) : await submittedJob(store, k.id);
      const r = await store.settleJob(j.id, outcome, who(T0 + 9));
      expect(r).toEqual({ settled: true, chargedMicros: 0, webhookEventId: null, job: { ...j, ...fields, billedSeconds: 0, chargedMicros: 0, settledAt: T0 + 9, updatedAt: T0 + 9, nextPollAt: null } });
      expect(await money(store, k.id)).toEqual({ balance: 1_000_000, held: 0 });
      expect((await ledgerOfJob(os, j.id)).map((e) => [e.kind, e.amountMicros, e.terminal, e.note])).toEqual([
        ['hold', 400_000, false, null],
        ['release', 400_000, true, kind],
      ]);
    });

    it('an unknown job is not settled', async () => {
      expect(await store.settleJob('job_nope', { kind: 'expired', reason: 'x' }, who())).toEqual({ settled: false, job: undefined });
    });
  });

  describe('recordLateCompletion', () => {
    it('records a completion on an expired job once, never charging it', async () => {
      const k = await fundedKey(store, 1_000_000);
      const j = await submittedJob(store, k.id);
      const open = await submittedJob(store, k.id);
      await store.settleJob(j.id, { kind: 'expired', reason: 'vanished' }, who(T0 + 1));
      const s = { billedSeconds: 4, outputSeconds: 4, finalObject: '{"late":1}', completedAt: T0 + 2 };
      await store.recordLateCompletion(j.id, s, T0 + 3);
      await store.recordLateCompletion(j.id, { ...s, finalObject: '{"late":2}' }, T0 + 4);
      await store.recordLateCompletion(open.id, s, T0 + 3);
      const row = await store.getJob(j.id);
      expect(row).toMatchObject({ status: 'expired', lateCompletedAt: T0 + 3, finalObject: '{"late":1}', completedAt: T0 + 2, outputSeconds: 4, updatedAt: T0 + 3, chargedMicros: 0 });
      expect(await store.getJob(open.id)).toEqual(open);
      expect(await money(store, k.id)).toEqual({ balance: 1_000_000, held: 400_000 });
    });
  });

  describe('appendCredit', () => {
    it('credits and adjusts, returning the ledger row', async () => {
      const k = await fundedKey(store, 1_000);
      const w = who(T0 + 4, 'admin');
      const credit = await store.appendCredit(k.id, 2_000, 'top-up', w);
      expect(credit).toEqual({ seq: expect.any(Number), id: expect.stringMatching(/^led_/), kind: 'credit', amountMicros: 2_000, keyId: k.id, jobId: null, terminal: false, requestId: w.requestId, actor: 'admin', note: 'top-up', createdAt: T0 + 4 });
      const adj = await store.appendCredit(k.id, -500, null, w);
      expect(adj).toMatchObject({ kind: 'adjustment', amountMicros: 500, note: null, terminal: false });
      expect(adj.seq).toBeGreaterThan(credit.seq);
      expect(await money(store, k.id)).toEqual({ balance: 2_500, held: 0 });
    });

    it('refuses an adjustment below the available balance, and bad amounts, with BalanceError', async () => {
      const k = await fundedKey(store, 1_000);
      await heldJob(store, k.id, { heldMicros: 700 });
      await expect(store.appendCredit(k.id, -301, null, who())).rejects.toBeInstanceOf(BalanceError);
      for (const bad of [0, 0.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) await expect(store.appendCredit(k.id, bad, null, who())).rejects.toBeInstanceOf(BalanceError);
      await expect(store.appendCredit(k.id, Number.MAX_SAFE_INTEGER - 999, null, who())).rejects.toBeInstanceOf(BalanceError);
      await expect(store.appendCredit('key_nope', 10, null, who())).rejects.toBeInstanceOf(BalanceError);
      expect(await money(store, k.id)).toEqual({ balance: 1_000, held: 700 });
      const entry = await store.appendCredit(k.id, -300, 'exact', who());
      expect(entry.amountMicros).toBe(300);
      expect(await money(store, k.id)).toEqual({ balance: 700, held: 700 });
      // the largest balance reelay keeps
      await store.appendCredit(k.id, Number.MAX_SAFE_INTEGER - 700, null, who());
      expect((await store.getKey(k.id))?.balanceMicros).toBe(Number.MAX_SAFE_INTEGER);
      expect((await ledgerOfKey(os, k.id)).map((e) => e.kind)).toEqual(['credit', 'hold', 'adjustment', 'credit']);
    });

    it('writes the audit entry in the same unit, and none when refused', async () => {
      const k = await fundedKey(store, 100);
      await store.appendCredit(k.id, 50, 'x', who(T0 + 1, 'admin'), { action: 'key.credit', targetId: k.id, details: { amount: '0.000050' } });
      await expect(store.appendCredit(k.id, -1_000, 'y', who(), { action: 'key.credit', targetId: k.id, details: null })).rejects.toBeInstanceOf(BalanceError);
      const audit = await store.listAudit({ limit: 10 });
      expect(audit.map((a) => [a.action, a.actor, a.details])).toEqual([['key.credit', 'admin', '{"amount":"0.000050"}']]);
    });
  });

  it('a key created with credit, then held, settled and adjusted keeps balance = ledger sum', async () => {
    const k = await store.createKey(newKey(), { who: who(), credit: { micros: 5_000_000, note: null } });
    const a = await submittedJob(store, k.id);
    const b = await submittedJob(store, k.id);
    await store.settleJob(a.id, { kind: 'completed', billedSeconds: 2, finalObject: '{}', completedAt: T0 }, who());
    await store.settleJob(b.id, { kind: 'failed', finalObject: null, errorCode: null }, who());
    await store.appendCredit(k.id, -1_000, null, who());
    const l = await ledgerOfKey(os, k.id);
    const sign: Record<string, number> = { credit: 1, adjustment: -1, capture: -1, hold: 0, release: 0 };
    expect((await money(store, k.id)).balance).toBe(l.reduce((s, e) => s + sign[e.kind] * e.amountMicros, 0));
    expect(await money(store, k.id)).toEqual({ balance: 5_000_000 - 200_000 - 1_000, held: 0 });
  });
});
