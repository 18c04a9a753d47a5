import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import type { JobRow } from '../../src/store/rows.js';
import { T0, fundedKey, heldJob, submittedJob, who } from './fixtures.js';

const ids = (rows: JobRow[]) => rows.map((r) => r.id);
const sorted = (rows: JobRow[]) => ids(rows).sort();

describe.each(engines)('jobs store on $name', (engine) => {
  let os: OpenStore;
  let store: Store;
  let keyId: string;
  beforeEach(async () => {
    os = await engine.open();
    store = os.store;
    keyId = (await fundedKey(store, 1_000_000_000)).id;
  });
  afterEach(async () => {
    await os.close();
  });

  it('reads a job by id, by video id and for a request; unknown gives undefined', async () => {
    const j = await submittedJob(store, keyId);
    expect(await store.getJob(j.id)).toEqual(j);
    expect(await store.getJobByVideoId(j.videoId!)).toEqual(j);
    expect(await store.getJobForRequest(keyId, j.videoId!)).toEqual(j);
    expect(await store.getJobForRequest('key_other', j.videoId!)).toBeUndefined();
    expect(await store.getJob('nope')).toBeUndefined();
    expect(await store.getJobByVideoId('nope')).toBeUndefined();
    expect(await store.getJobForRequest(keyId, 'nope')).toBeUndefined();
  });

  describe('listVideosForKeys', () => {
    it('lists visible jobs of the keys by creation, ties broken by id, paged by cursor both ways', async () => {
      const other = (await fundedKey(store, 1_000_000_000)).id;
      const third = (await fundedKey(store, 1_000_000_000)).id;
      const a = await submittedJob(store, keyId, { id: 'job_B' }, T0 + 1);
      const b = await submittedJob(store, keyId, { id: 'job_a' }, T0 + 1);
      const c = await submittedJob(store, other, { id: 'job_A' }, T0 + 1);
      const d = await submittedJob(store, keyId, { id: 'job_0' }, T0 + 2);
      await heldJob(store, keyId, {}, T0 + 3); // no video id yet
      const deleted = await submittedJob(store, keyId, {}, T0 + 4);
      await store.markDeleted(deleted.id, T0 + 5);
      await submittedJob(store, third, {}, T0 + 1);
      const keys = [keyId, other];
      const asc = await store.listVideosForKeys(keys, { limit: 10, order: 'asc' });
      expect(ids(asc)).toEqual([c.id, a.id, b.id, d.id]);
      const desc = await store.listVideosForKeys(keys, { limit: 10, order: 'desc' });
      expect(ids(desc)).toEqual([d.id, b.id, a.id, c.id]);
      expect(ids(await store.listVideosForKeys(keys, { after: c, limit: 2, order: 'asc' }))).toEqual([a.id, b.id]);
      expect(ids(await store.listVideosForKeys(keys, { after: b, limit: 2, order: 'desc' }))).toEqual([a.id, c.id]);
      expect(ids(await store.listVideosForKeys(keys, { after: d, limit: 2, order: 'asc' }))).toEqual([]);
      expect(await store.listVideosForKeys([], { limit: 5, order: 'asc' })).toEqual([]);
    });
  });

  describe('recordProgress', () => {
    it('writes a change and clears the poll failures and 404 counts', async () => {
      const j = await submittedJob(store, keyId, {}, T0, T0 + 1000);
      await store.recordPollFailure(j.id, T0 + 2000, T0 + 1);
      await store.recordNotFound(j.id, T0 + 2, 60_000, T0 + 3000);
      await store.recordProgress(j.id, { status: 'in_progress', progress: 40, nextPollAt: T0 + 5000 }, T0 + 10);
      expect(await store.getJob(j.id)).toEqual({ ...j, status: 'in_progress', progress: 40, nextPollAt: T0 + 5000, pollFailures: 0, notFoundCount: 0, lastNotFoundAt: null, updatedAt: T0 + 10 });
    });

    it('skips an observation that changes nothing while the job is not due, writes it once due', async () => {
      const j = await submittedJob(store, keyId, {}, T0, T0 + 1000);
      await store.recordProgress(j.id, { status: 'queued', progress: 0, nextPollAt: T0 + 9000 }, T0 + 500);
      expect(await store.getJob(j.id)).toEqual(j);
      await store.recordProgress(j.id, { status: 'queued', progress: 0, nextPollAt: T0 + 9000 }, T0 + 1000);
      expect(await store.getJob(j.id)).toMatchObject({ nextPollAt: T0 + 9000, updatedAt: T0 + 1000 });
      // progress null compared as a value (null is null)
      await store.recordProgress(j.id, { status: 'queued', progress: null, nextPollAt: T0 + 9500 }, T0 + 1100);
      expect(await store.getJob(j.id)).toMatchObject({ progress: null, nextPollAt: T0 + 9500 });
      await store.recordProgress(j.id, { status: 'queued', progress: null, nextPollAt: T0 + 9900 }, T0 + 1200);
      expect(await store.getJob(j.id)).toMatchObject({ nextPollAt: T0 + 9500, updatedAt: T0 + 1100 });
    });

    it('never touches a pending or settled job', async () => {
      const pending = await heldJob(store, keyId);
      const settled = await submittedJob(store, keyId);
      const s = await store.settleJob(settled.id, { kind: 'failed', finalObject: null, errorCode: null }, who());
      await store.recordProgress(pending.id, { status: 'in_progress', progress: 1, nextPollAt: T0 + 1 }, T0 + 1);
      await store.recordProgress(settled.id, { status: 'in_progress', progress: 1, nextPollAt: T0 + 1 }, T0 + 1);
      expect(await store.getJob(pending.id)).toEqual(pending);
      expect(await store.getJob(settled.id)).toEqual(s.settled && s.job);
    });
  });

  describe('deferPollSchedule / flushPollSchedule', () => {
    it('writes moves at most once a second, on flush, and never moves a schedule back', async () => {
      const j = await submittedJob(store, keyId, {}, T0, T0 + 1000);
      await store.deferPollSchedule(j.id, T0 + 5000, T0 + 1000); // first call: written at once
      expect(await store.getJob(j.id)).toMatchObject({ nextPollAt: T0 + 5000, updatedAt: T0 + 1000 });
      await store.deferPollSchedule(j.id, T0 + 6000, T0 + 1500); // within the second: queued
      expect((await store.getJob(j.id))?.nextPollAt).toBe(T0 + 5000);
      await store.deferPollSchedule(j.id, T0 + 5500, T0 + 1600); // an earlier time does not replace the queued one
      await store.flushPollSchedule(T0 + 1700);
      expect(await store.getJob(j.id)).toMatchObject({ nextPollAt: T0 + 6000, updatedAt: T0 + 1700 });
      await store.deferPollSchedule(j.id, T0 + 3000, T0 + 3000); // due and back in time: not written
      expect((await store.getJob(j.id))?.nextPollAt).toBe(T0 + 6000);
      await store.deferPollSchedule(j.id, T0 + 7000, T0 + 3500);
      await store.deferPollSchedule(j.id, T0 + 7100, T0 + 4000); // a second after the last write: flushes
      expect((await store.getJob(j.id))?.nextPollAt).toBe(T0 + 7100);
      await store.flushPollSchedule(T0 + 9000); // nothing queued
      expect((await store.getJob(j.id))?.updatedAt).toBe(T0 + 4000);
    });

    it('leaves settled jobs and jobs with failures to clear alone', async () => {
      const failing = await submittedJob(store, keyId);
      const settled = await submittedJob(store, keyId);
      const fine = await submittedJob(store, keyId);
      await store.recordPollFailure(failing.id, T0 + 100, T0 + 1);
      const s = await store.settleJob(settled.id, { kind: 'expired', reason: 'x' }, who());
      await store.flushPollSchedule(T0); // resets the once-a-second clock
      await store.deferPollSchedule(failing.id, T0 + 9000, T0 + 10);
      await store.deferPollSchedule(settled.id, T0 + 9000, T0 + 10);
      await store.deferPollSchedule(fine.id, T0 + 9000, T0 + 10);
      await store.flushPollSchedule(T0 + 20);
      expect(await store.getJob(failing.id)).toMatchObject({ nextPollAt: T0 + 100, pollFailures: 1 });
      expect(await store.getJob(settled.id)).toEqual(s.settled && s.job);
      expect(await store.getJob(fine.id)).toMatchObject({ nextPollAt: T0 + 9000, updatedAt: T0 + 20 });
    });
  });

  it('recordPollFailure counts failures on submitted open jobs only', async () => {
    const j = await submittedJob(store, keyId);
    const p = await heldJob(store, keyId);
    await store.recordPollFailure(j.id, T0 + 100, T0 + 1);
    await store.recordPollFailure(j.id, T0 + 200, T0 + 2);
    await store.recordPollFailure(p.id, T0 + 200, T0 + 2);
    expect(await store.getJob(j.id)).toMatchObject({ pollFailures: 2, nextPollAt: T0 + 200, updatedAt: T0 + 2 });
    expect(await store.getJob(p.id)).toEqual(p);
  });

  it('recordNotFound counts 404s spaced at least spacingMs apart and returns the count', async () => {
    const j = await submittedJob(store, keyId);
    expect(await store.recordNotFound(j.id, T0 + 1_000, 60_000, T0 + 61_000)).toBe(1);
    expect(await store.recordNotFound(j.id, T0 + 30_000, 60_000, T0 + 90_000)).toBe(1);
    expect(await store.getJob(j.id)).toMatchObject({ notFoundCount: 1, lastNotFoundAt: T0 + 1_000, nextPollAt: T0 + 90_000, updatedAt: T0 + 30_000 });
    expect(await store.recordNotFound(j.id, T0 + 61_000, 60_000, T0 + 121_000)).toBe(2);
    expect(await store.recordNotFound(j.id, T0 + 121_000, 60_000, T0 + 181_000)).toBe(3);
    expect(await store.getJob(j.id)).toMatchObject({ notFoundCount: 3, lastNotFoundAt: T0 + 121_000 });
    expect(await store.recordNotFound('job_nope', T0, 60_000, T0)).toBe(0);
  });

  it('markDeleted stamps the deletion', async () => {
    const j = await submittedJob(store, keyId);
    await store.markDeleted(j.id, T0 + 5);
    expect(await store.getJob(j.id)).toEqual({ ...j, deletedAt: T0 + 5, updatedAt: T0 + 5 });
  });

  it('jobsDueForPoll lists submitted open jobs that are due, soonest first', async () => {
    const late = await submittedJob(store, keyId, {}, T0, T0 + 300);
    const early = await submittedJob(store, keyId, {}, T0, T0 + 100);
    await submittedJob(store, keyId, {}, T0, T0 + 10_000); // not due
    await heldJob(store, keyId); // pending
    const settled = await submittedJob(store, keyId, {}, T0, T0 + 50);
    await store.settleJob(settled.id, { kind: 'failed', finalObject: null, errorCode: null }, who());
    expect(ids(await store.jobsDueForPoll(T0 + 300, 10))).toEqual([early.id, late.id]);
    expect(ids(await store.jobsDueForPoll(T0 + 300, 1))).toEqual([early.id]);
  });

  it('openJobsCreatedBefore', async () => {
    const oldPending = await heldJob(store, keyId, {}, T0);
    const oldQueued = await submittedJob(store, keyId, {}, T0);
    const oldSettled = await submittedJob(store, keyId, {}, T0);
    await store.settleJob(oldSettled.id, { kind: 'expired', reason: 'x' }, who());
    await heldJob(store, keyId, {}, T0 + 100);
    expect(sorted(await store.openJobsCreatedBefore(T0 + 100, 10))).toEqual([oldPending.id, oldQueued.id].sort());
    expect(await store.openJobsCreatedBefore(T0 + 100, 1)).toHaveLength(1);
    expect(await store.openJobsCreatedBefore(T0, 10)).toEqual([]);
  });

  it('openHoldTotals and countOpenJobsDue are numbers', async () => {
    expect(await store.openHoldTotals()).toEqual({ jobs: 0, heldMicros: 0 });
    expect(await store.countOpenJobsDue(T0)).toBe(0);
    await heldJob(store, keyId, { heldMicros: 1_000 }); // pending: next poll null counts as due
    await submittedJob(store, keyId, { heldMicros: 2_000 }, T0, T0 + 100);
    await submittedJob(store, keyId, { heldMicros: 4_000 }, T0, T0 + 5_000);
    const done = await submittedJob(store, keyId, { heldMicros: 8_000 }, T0, T0);
    await store.settleJob(done.id, { kind: 'completed', billedSeconds: 1, finalObject: '{}', completedAt: T0 }, who());
    expect(await store.openHoldTotals()).toEqual({ jobs: 3, heldMicros: 7_000 });
    expect(await store.countOpenJobsDue(T0 + 100)).toBe(2);
    expect(await store.countOpenJobsDue(T0 + 5_000)).toBe(3);
  });
});
