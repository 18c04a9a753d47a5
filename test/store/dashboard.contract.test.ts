import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { enginesWithLinguistic } from './linguistic-engine.js';
import { DAY, DAY0, DAY1, DAY2, seed } from './report-dataset.js';

/** The dashboard aggregates, on both engines through the Store interface. */

const ALL = { from: DAY0 - DAY, to: DAY2 + DAY };

describe.each(enginesWithLinguistic(engines))('$label: dashboard', (engine) => {
  let o: OpenStore;
  beforeAll(async () => {
    o = await engine.open();
    await seed(o);
  });
  afterAll(() => o.close());

  it('spendPerDay: captures per UTC day of settlement, the last and first ms of a day on their own side', async () => {
    expect(await o.store.spendPerDay(ALL)).toEqual([
      { day: '2024-01-01', spentMicros: 800_000, captures: 1 },
      { day: '2024-01-02', spentMicros: 2_200_000, captures: 2 },
    ]);
    // [from, to): the capture at DAY1 - 1 is in the first range only, the one at DAY1 in the second only.
    expect(await o.store.spendPerDay({ from: DAY0, to: DAY1 })).toEqual([{ day: '2024-01-01', spentMicros: 800_000, captures: 1 }]);
    expect(await o.store.spendPerDay({ from: DAY1, to: DAY1 + 1 })).toEqual([{ day: '2024-01-02', spentMicros: 1_500_000, captures: 1 }]);
    expect(await o.store.spendPerDay({ from: DAY2, to: DAY2 + DAY })).toEqual([]);
  });

  it('keySpendPerDay: one key only', async () => {
    expect(await o.store.keySpendPerDay('key_a', ALL)).toEqual([
      { day: '2024-01-01', spentMicros: 800_000, captures: 1 },
      { day: '2024-01-02', spentMicros: 700_000, captures: 1 },
    ]);
    expect(await o.store.keySpendPerDay('key_B', { from: DAY0, to: DAY1 })).toEqual([]);
    expect(await o.store.keySpendPerDay('nope', ALL)).toEqual([]);
  });

  it('jobsByStatus: count descending, then status in byte order', async () => {
    expect(await o.store.jobsByStatus(ALL)).toEqual([
      { status: 'rejected', n: 4 },
      { status: 'completed', n: 3 },
      { status: 'expired', n: 1 },
      { status: 'failed', n: 1 },
      { status: 'in_progress', n: 1 },
      { status: 'pending', n: 1 },
      { status: 'queued', n: 1 },
      { status: 'unknown', n: 1 },
    ]);
    expect(await o.store.jobsByStatus({ from: DAY0, to: DAY1 })).toEqual([
      { status: 'completed', n: 1 },
      { status: 'failed', n: 1 },
      { status: 'in_progress', n: 1 },
    ]);
  });

  it('topKeysBySpend: spend descending, ties by key id in byte order, with name and prefix', async () => {
    expect(await o.store.topKeysBySpend(ALL, 10)).toEqual([
      { keyId: 'key_B', name: 'Beta', prefix: 'sk-B', spentMicros: 1_500_000, jobs: 1 },
      { keyId: 'key_a', name: 'Alpha', prefix: 'sk-a', spentMicros: 1_500_000, jobs: 2 },
    ]);
    expect(await o.store.topKeysBySpend(ALL, 1)).toEqual([{ keyId: 'key_B', name: 'Beta', prefix: 'sk-B', spentMicros: 1_500_000, jobs: 1 }]);
    expect(await o.store.topKeysBySpend({ from: DAY1 + 1, to: DAY2 }, 10)).toEqual([{ keyId: 'key_a', name: 'Alpha', prefix: 'sk-a', spentMicros: 700_000, jobs: 1 }]);
  });

  it('modelHealth: outcomes and nearest-rank percentiles per model and UTC day', async () => {
    const zero = { jobs: 0, completed: 0, failed: 0, expired: 0, rejected: 0, rejectedUpstream: 0, unknown: 0, open: 0 };
    const none = { genP50Ms: null, genP95Ms: null, createP50Ms: null, createP95Ms: null };
    expect(await o.store.modelHealth(ALL)).toEqual([
      { model: 'sora-2', day: '2023-12-31', ...zero, jobs: 1, completed: 1, genP50Ms: 60_001, genP95Ms: 60_001, createP50Ms: 100, createP95Ms: 100 },
      { model: 'sora-2', day: '2024-01-01', ...zero, jobs: 1, failed: 1, ...none, createP50Ms: 300, createP95Ms: 300 },
      // Rejections: upstream_400 and UPSTREAM_404 are the client's (4xx), upstream_429 and no code the upstream's.
      { model: 'sora-2', day: '2024-01-02', ...zero, jobs: 6, completed: 1, expired: 1, rejected: 4, rejectedUpstream: 2, genP50Ms: 60_000, genP95Ms: 60_000, createP50Ms: 20, createP95Ms: 80 },
      { model: 'sora-2', day: '2024-01-03', ...zero, jobs: 3, unknown: 1, open: 2, ...none },
      { model: 'sora-2-pro', day: '2024-01-01', ...zero, jobs: 2, completed: 1, open: 1, genP50Ms: 5_001, genP95Ms: 5_001, createP50Ms: 50, createP95Ms: 200 },
    ]);
    expect((await o.store.modelHealth({ from: DAY0, to: DAY1 })).map((r) => [r.model, r.day, r.jobs])).toEqual([
      ['sora-2', '2024-01-01', 1],
      ['sora-2-pro', '2024-01-01', 2],
    ]);
  });

  it('modelHealth: a completion before submission counts as 0 ms', async () => {
    await o.sql(
      `insert into jobs (id, key_id, kind, model, size, requested_seconds, status, rate_micros, held_micros, charged_micros, request_id, created_at, updated_at, completed_at)
       values ('job_w1', 'key_a', 'create', 'weird', '1280x720', 4, 'completed', 1, 0, 0, 'req_w1', ${DAY2 + 5}, ${DAY2 + 5}, ${DAY2})`,
    );
    expect((await o.store.modelHealth({ from: DAY2, to: DAY2 + DAY })).find((r) => r.model === 'weird')).toMatchObject({ genP50Ms: 0, genP95Ms: 0 });
  });
});
