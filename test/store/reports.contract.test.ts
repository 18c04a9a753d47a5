import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { enginesWithLinguistic } from './linguistic-engine.js';
import type { JobCursor, Order } from '../../src/store/queries.js';
import { DAY0, DAY1, NOW, jobRow, ledgerRow, requestRow, seed } from './report-dataset.js';

/** The admin reads, on both engines through the Store interface, against the shared data set. */

/** Every job in (created_at, id byte order) ascending order. */
const ALL_ASC = ['job_a1', 'job_Z2', 'job_a3', 'job_b1', 'job_b2', 'job_b3', 'job_b4', 'job_b5', 'job_a4', 'job_r1', 'job_x1', 'job_z1', 'job_z2'];

describe.each(enginesWithLinguistic(engines))('$label: report units', (engine) => {
  let o: OpenStore;
  beforeAll(async () => {
    o = await engine.open();
    await seed(o);
  });
  afterAll(() => o.close());

  it('findJobByAnyId: by video id, else by job id', async () => {
    expect(await o.store.findJobByAnyId('video_a1')).toEqual(jobRow('job_a1'));
    expect(await o.store.findJobByAnyId('job_b2')).toEqual(jobRow('job_b2'));
    expect(await o.store.findJobByAnyId('nope')).toBeUndefined();
  });

  it('findJobByCreateRequestId: by reelay or upstream request id', async () => {
    expect(await o.store.findJobByCreateRequestId('up_a3')).toEqual(jobRow('job_a3'));
    expect(await o.store.findJobByCreateRequestId('req_b2')).toEqual(jobRow('job_b2'));
    expect(await o.store.findJobByCreateRequestId('client_1')).toBeUndefined();
  });

  async function allPages(order: Order, limit: number, filter: { keyId?: string; statuses?: string[]; model?: string; from?: number; to?: number } = {}) {
    const ids: string[] = [];
    let after: JobCursor | undefined;
    for (let page = 0; page < 50; page++) {
      const rows = await o.store.listAdminJobs({ ...filter, after, order, limit });
      ids.push(...rows.map((r) => r.id));
      if (rows.length < limit) return ids;
      after = { createdAt: rows.at(-1)!.createdAt, id: rows.at(-1)!.id };
    }
    throw new Error('paging does not end');
  }

  it('listAdminJobs: keyset pages in (created_at, id) byte order, both directions, ties included', async () => {
    expect(await allPages('asc', 100)).toEqual(ALL_ASC);
    expect(await allPages('asc', 2)).toEqual(ALL_ASC);
    expect(await allPages('desc', 2)).toEqual([...ALL_ASC].reverse());
    expect(await allPages('desc', 1)).toEqual([...ALL_ASC].reverse());
    // A cursor in the middle of a tie (job_Z2 and job_a3 share created_at).
    const after = { createdAt: DAY0, id: 'job_Z2' };
    expect((await o.store.listAdminJobs({ after, order: 'asc', limit: 2 })).map((r) => r.id)).toEqual(['job_a3', 'job_b1']);
    expect((await o.store.listAdminJobs({ after: { createdAt: DAY0, id: 'job_a3' }, order: 'desc', limit: 5 })).map((r) => r.id)).toEqual(['job_Z2', 'job_a1']);
    expect((await o.store.listAdminJobs({ order: 'asc', limit: 1 }))[0]).toEqual(jobRow('job_a1'));
  });

  it('listAdminJobs: filters by key, statuses, model and [from, to)', async () => {
    expect(await allPages('asc', 2, { keyId: 'key_a' })).toEqual(['job_a1', 'job_Z2', 'job_a3', 'job_a4']);
    expect(await allPages('asc', 2, { statuses: ['pending', 'queued', 'in_progress'] })).toEqual(['job_a3', 'job_z1', 'job_z2']);
    expect(await allPages('asc', 2, { statuses: [] })).toEqual([]);
    expect(await allPages('desc', 3, { model: 'sora-2-pro' })).toEqual(['job_b1', 'job_a3']);
    expect(await allPages('asc', 2, { from: DAY0, to: DAY1 })).toEqual(['job_Z2', 'job_a3', 'job_b1']);
    expect(await allPages('asc', 2, { keyId: 'key_B', statuses: ['rejected'], model: 'sora-2', from: DAY1 + 1, to: DAY1 + 3 })).toEqual(['job_b3', 'job_b4']);
  });

  it('listAdminLedger: seq order with the job\'s video id, filters and cursor', async () => {
    const all = await o.store.listAdminLedger({ order: 'asc', limit: 100 });
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 28 }, (_, i) => i + 1));
    expect(all[0]).toEqual({ ...ledgerRow(1), videoId: null });
    expect(all[9]).toEqual({ ...ledgerRow(10), videoId: 'video_a1' });
    expect(all[14]).toEqual({ ...ledgerRow(15), videoId: null }); // job_b2 has no video id
    const desc = await o.store.listAdminLedger({ keyId: 'key_a', order: 'desc', limit: 3 });
    expect(desc.map((r) => r.seq)).toEqual([26, 25, 24]);
    expect((await o.store.listAdminLedger({ keyId: 'key_a', order: 'desc', afterSeq: 24, limit: 3 })).map((r) => r.seq)).toEqual([23, 11, 10]);
    expect((await o.store.listAdminLedger({ keyId: 'key_a', order: 'asc', afterSeq: 8, limit: 3 })).map((r) => r.seq)).toEqual([9, 10, 11]);
    expect((await o.store.listAdminLedger({ jobId: 'job_b1', order: 'asc', limit: 10 })).map((r) => [r.seq, r.kind, r.videoId])).toEqual([
      [12, 'hold', 'video_b1'],
      [13, 'capture', 'video_b1'],
      [14, 'release', 'video_b1'],
    ]);
    // [from, to): DAY1 - 1 is in, DAY1 is out.
    expect((await o.store.listAdminLedger({ from: DAY1 - 1, to: DAY1, order: 'asc', limit: 10 })).map((r) => r.seq)).toEqual([10, 11, 12]);
  });

  it('ledgerSeqOf, jobLedgerEntries', async () => {
    expect(await o.store.ledgerSeqOf('led_10')).toBe(10);
    expect(await o.store.ledgerSeqOf('nope')).toBeUndefined();
    expect(await o.store.jobLedgerEntries('job_a1')).toEqual([ledgerRow(6), ledgerRow(10), ledgerRow(11)]);
    expect(await o.store.jobLedgerEntries('job_x1')).toEqual([]);
  });

  it('ledgerTotalsUpTo: running balance and available amount of one key', async () => {
    expect(await o.store.ledgerTotalsUpTo('key_a', 0)).toEqual({ balanceMicros: 0, availableMicros: 0 });
    expect(await o.store.ledgerTotalsUpTo('key_a', 8)).toEqual({ balanceMicros: 10_000_000, availableMicros: 8_000_000 });
    expect(await o.store.ledgerTotalsUpTo('key_a', 11)).toEqual({ balanceMicros: 9_200_000, availableMicros: 8_700_000 });
    expect(await o.store.ledgerTotalsUpTo('key_a', 28)).toEqual({ balanceMicros: 10_000_000, availableMicros: 9_500_000 });
    expect(await o.store.ledgerTotalsUpTo('nope', 28)).toEqual({ balanceMicros: 0, availableMicros: 0 });
  });

  it('requestLogForJob: the create and the calls on its video id, newest `limit`, oldest first', async () => {
    expect(await o.store.requestLogForJob({ requestId: 'req_a1', videoId: 'video_a1' }, 10)).toEqual([requestRow(1), requestRow(4), requestRow(8)]);
    expect((await o.store.requestLogForJob({ requestId: 'req_a1', videoId: 'video_a1' }, 2)).map((r) => r.seq)).toEqual([4, 8]);
    expect((await o.store.requestLogForJob({ requestId: 'req_b2', videoId: null }, 10)).map((r) => r.seq)).toEqual([6]);
  });

  it('findRequestsByAnyId: any of the four ids, oldest first, after the cursor', async () => {
    expect((await o.store.findRequestsByAnyId('video_a1', { limit: 10 })).map((r) => r.seq)).toEqual([1, 4, 8]);
    expect((await o.store.findRequestsByAnyId('video_a1', { afterSeq: 1, limit: 1 })).map((r) => r.seq)).toEqual([4]);
    expect(await o.store.findRequestsByAnyId('client_2', { limit: 10 })).toEqual([requestRow(4)]);
    expect((await o.store.findRequestsByAnyId('up_a3', { limit: 10 })).map((r) => r.seq)).toEqual([3]);
    expect((await o.store.findRequestsByAnyId('req_b3', { limit: 10 })).map((r) => r.seq)).toEqual([7]);
    expect(await o.store.findRequestsByAnyId('nope', { limit: 10 })).toEqual([]);
  });

  it('openHolds: open jobs oldest first, totals over all of them', async () => {
    expect(await o.store.openHolds(2)).toEqual({ jobs: [jobRow('job_a3'), jobRow('job_z1')], count: 3, heldMicros: 500_000 });
    expect((await o.store.openHolds(0)).jobs).toEqual([]);
  });

  it('keyTotals: counts all keys, sums the usable ones only', async () => {
    expect(await o.store.keyTotals(NOW)).toEqual({ keys: 6, active: 3, balanceMicros: 12_000_000, heldMicros: 500_000 });
    // Before key_x expires (DAY1): it counts.
    expect(await o.store.keyTotals(DAY1 - 1)).toEqual({ keys: 6, active: 4, balanceMicros: 12_000_007, heldMicros: 500_000 });
  });

  it('heldMicrosTotal and reconcilerLagMs', async () => {
    expect(await o.store.heldMicrosTotal()).toBe(500_000);
    expect(await o.store.reconcilerLagMs(NOW)).toBe(5_000);
    // Nothing due yet.
    expect(await o.store.reconcilerLagMs(NOW - 10_000)).toBe(0);
  });

  it('ledgerViolations: the fixture is consistent', async () => {
    expect(await o.store.ledgerViolations()).toEqual([]);
  });
});

describe.each(engines)('$name: report units on an empty database', (engine) => {
  let o: OpenStore;
  beforeAll(async () => {
    o = await engine.open();
  });
  afterAll(() => o.close());

  it('aggregates are zero, lists empty, lookups undefined', async () => {
    expect(await o.store.keyTotals(NOW)).toEqual({ keys: 0, active: 0, balanceMicros: 0, heldMicros: 0 });
    expect(await o.store.openHolds(10)).toEqual({ jobs: [], count: 0, heldMicros: 0 });
    expect(await o.store.heldMicrosTotal()).toBe(0);
    expect(await o.store.reconcilerLagMs(NOW)).toBe(0);
    expect(await o.store.listAdminJobs({ order: 'desc', limit: 10 })).toEqual([]);
    expect(await o.store.listAdminLedger({ order: 'desc', limit: 10 })).toEqual([]);
    expect(await o.store.findJobByAnyId('x')).toBeUndefined();
    expect(await o.store.usageSummary({}, 'key')).toEqual([]);
    expect(await o.store.spendPerDay({ from: 0, to: NOW })).toEqual([]);
    expect(await o.store.modelHealth({ from: 0, to: NOW })).toEqual([]);
    expect(await o.store.topKeysBySpend({ from: 0, to: NOW }, 5)).toEqual([]);
    expect(await o.store.jobsByStatus({ from: 0, to: NOW })).toEqual([]);
    expect(await o.store.ledgerViolations()).toEqual([]);
  });
});
