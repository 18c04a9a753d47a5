import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { enginesWithLinguistic } from './linguistic-engine.js';
import type { JobCursor, UsageFilter } from '../../src/store/queries.js';
import { DAY0, DAY1, DAY2, JOBS, KEYS, seed } from './report-dataset.js';

/** The usage export and summary, on both engines through the Store interface. */

const ALL_ASC = ['job_a1', 'job_Z2', 'job_a3', 'job_b1', 'job_b2', 'job_b3', 'job_b4', 'job_b5', 'job_a4', 'job_r1', 'job_x1', 'job_z1', 'job_z2'];

describe.each(enginesWithLinguistic(engines))('$label: usage', (engine) => {
  let o: OpenStore;
  beforeAll(async () => {
    o = await engine.open();
    await seed(o);
  });
  afterAll(() => o.close());

  async function exportAll(f: UsageFilter, limit: number) {
    const ids: string[] = [];
    let after: JobCursor | undefined;
    for (let page = 0; page < 50; page++) {
      const rows = await o.store.usageExportPage(f, after, limit);
      ids.push(...rows.map((r) => r.id));
      if (rows.length < limit) return ids;
      after = { createdAt: rows.at(-1)!.createdAt, id: rows.at(-1)!.id };
    }
    throw new Error('paging does not end');
  }

  it('usageExportPage: the export columns, with the key name', async () => {
    const [row] = await o.store.usageExportPage({}, undefined, 1);
    const j = JOBS[0]!;
    expect(row).toEqual({
      id: 'job_a1',
      videoId: 'video_a1',
      keyId: 'key_a',
      keyName: 'Alpha',
      kind: 'create',
      model: 'sora-2',
      size: '1280x720',
      requestedSeconds: 8,
      billedSeconds: 8,
      rateMicros: 100_000,
      flatPriceMicros: null,
      chargedMicros: 800_000,
      status: 'completed',
      errorCode: null,
      requestId: 'req_a1',
      upstreamRequestId: 'up_a1',
      upstreamId: 'default',
      createdAt: j.createdAt,
      completedAt: j.completedAt,
    });
  });

  it('usageExportPage: keyset pages cover every job once, in (created_at, id) byte order', async () => {
    for (const limit of [1, 2, 3, 5, 100]) expect(await exportAll({}, limit)).toEqual(ALL_ASC);
    // A cursor inside the created_at tie.
    expect((await o.store.usageExportPage({}, { createdAt: DAY0, id: 'job_Z2' }, 2)).map((r) => r.id)).toEqual(['job_a3', 'job_b1']);
  });

  it('usageExportPage: filters by key and [from, to)', async () => {
    expect(await exportAll({ keyId: 'key_B' }, 2)).toEqual(['job_b1', 'job_b2', 'job_b3', 'job_b4', 'job_b5']);
    expect(await exportAll({ from: DAY0, to: DAY1 }, 2)).toEqual(['job_Z2', 'job_a3', 'job_b1']);
    expect(await exportAll({ keyId: 'key_a', from: DAY0 - 1, to: DAY0 }, 2)).toEqual(['job_a1']);
    expect(await exportAll({ keyId: 'nope' }, 2)).toEqual([]);
  });

  it('usageSummary by key: byte order of key ids, the key name, counts and sums', async () => {
    const name = (id: string) => KEYS.find((k) => k.id === id)!.name;
    expect(await o.store.usageSummary({}, 'key')).toEqual([
      { group: 'key_B', keyName: name('key_B'), jobs: 5, chargedJobs: 1, billedSeconds: 4, amountMicros: 1_500_000 },
      { group: 'key_a', keyName: 'Alpha', jobs: 4, chargedJobs: 2, billedSeconds: 15, amountMicros: 1_500_000 },
      { group: 'key_r', keyName: 'Revoked', jobs: 1, chargedJobs: 0, billedSeconds: 0, amountMicros: 0 },
      { group: 'key_x', keyName: 'Expired', jobs: 1, chargedJobs: 0, billedSeconds: 0, amountMicros: 0 },
      { group: 'key_z', keyName: 'Zed', jobs: 2, chargedJobs: 0, billedSeconds: 0, amountMicros: 0 },
    ]);
  });

  it('usageSummary by model', async () => {
    expect(await o.store.usageSummary({}, 'model')).toEqual([
      { group: 'sora-2', keyName: null, jobs: 11, chargedJobs: 2, billedSeconds: 15, amountMicros: 1_500_000 },
      { group: 'sora-2-pro', keyName: null, jobs: 2, chargedJobs: 1, billedSeconds: 4, amountMicros: 1_500_000 },
    ]);
  });

  it('usageSummary by upstream: each job counts at the upstream that took it', async () => {
    const byModel = await o.store.usageSummary({}, 'model');
    await o.sql(`update jobs set upstream_id = 'acct-b' where id in ('job_b1', 'job_b2', 'job_b3', 'job_b4', 'job_b5')`);
    try {
      const byUpstream = await o.store.usageSummary({}, 'upstream');
      expect(byUpstream.map((g) => [g.group, g.jobs, g.keyName])).toEqual([
        ['acct-b', 5, null],
        ['default', 8, null],
      ]);
      const sum = (rows: typeof byModel, k: 'jobs' | 'chargedJobs' | 'billedSeconds' | 'amountMicros') => rows.reduce((n, r) => n + r[k], 0);
      for (const k of ['jobs', 'chargedJobs', 'billedSeconds', 'amountMicros'] as const) expect(sum(byUpstream, k)).toBe(sum(byModel, k));
    } finally {
      await o.sql(`update jobs set upstream_id = 'default'`);
    }
  });

  it('usageSummary by UTC day of submission: the last and first ms of a day fall on their own side', async () => {
    expect(await o.store.usageSummary({}, 'day')).toEqual([
      { group: '2023-12-31', keyName: null, jobs: 1, chargedJobs: 1, billedSeconds: 8, amountMicros: 800_000 },
      { group: '2024-01-01', keyName: null, jobs: 3, chargedJobs: 1, billedSeconds: 4, amountMicros: 1_500_000 },
      { group: '2024-01-02', keyName: null, jobs: 6, chargedJobs: 1, billedSeconds: 7, amountMicros: 700_000 },
      { group: '2024-01-03', keyName: null, jobs: 3, chargedJobs: 0, billedSeconds: 0, amountMicros: 0 },
    ]);
  });

  it('usageSummary with filters', async () => {
    expect(await o.store.usageSummary({ keyId: 'key_a', from: DAY0, to: DAY2 }, 'day')).toEqual([
      { group: '2024-01-01', keyName: null, jobs: 2, chargedJobs: 0, billedSeconds: 0, amountMicros: 0 },
      { group: '2024-01-02', keyName: null, jobs: 1, chargedJobs: 1, billedSeconds: 7, amountMicros: 700_000 },
    ]);
    expect(await o.store.usageSummary({ from: DAY1 - 1, to: DAY1 + 1 }, 'key')).toEqual([
      { group: 'key_B', keyName: 'Beta', jobs: 2, chargedJobs: 1, billedSeconds: 4, amountMicros: 1_500_000 },
    ]);
    expect(await o.store.usageSummary({ keyId: 'nope' }, 'model')).toEqual([]);
  });
});
