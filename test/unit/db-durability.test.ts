/**
 * Money state and job rows are committed with synchronous = FULL; only best-effort records (the
 * request log and keys' last-used times) skip the disk sync, and the connection is back at FULL
 * right after.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openMigratedDatabase, type Database_ } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import { createKey } from '../../src/keys/service.js';

const FULL = 2;
const NORMAL = 1;

let database: Database_;
afterEach(() => database?.close());

const synchronous = () => database.sqlite.pragma('synchronous', { simple: true });

describe('withoutSync', () => {
  it('runs the write at synchronous = NORMAL and restores FULL afterwards, also when it throws', () => {
    database = openMigratedDatabase(join(mkdtempSync(join(tmpdir(), 'reelay-sync-')), 'r.db'));
    expect(synchronous()).toBe(FULL);
    expect(database.withoutSync(() => synchronous())).toBe(NORMAL);
    expect(synchronous()).toBe(FULL);
    expect(() =>
      database.withoutSync(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(synchronous()).toBe(FULL);
  });

  it('leaves a surrounding transaction alone (its own commit decides)', () => {
    database = openMigratedDatabase(join(mkdtempSync(join(tmpdir(), 'reelay-sync-')), 'r.db'));
    const inside = database.sqlite.transaction(() => database.withoutSync(() => synchronous()))();
    expect(inside).toBe(FULL);
  });

  it('is what the request log and last-used writes go through, and nothing that moves money or changes a job', async () => {
    database = openMigratedDatabase(join(mkdtempSync(join(tmpdir(), 'reelay-sync-')), 'r.db'));
    let relaxed = 0;
    const watched: Database_ = {
      ...database,
      withoutSync<T>(write: () => T): T {
        relaxed++;
        return database.withoutSync(write);
      },
    };
    const store = createStore(watched);
    await store.insertRequestLogBatch([{ requestId: 'req_1', method: 'GET', route: '/v1/models', status: 200, durationMs: 1, createdAt: 1 }]);
    expect(relaxed).toBe(1);
    expect(await store.searchRequestLog({ requestId: 'req_1', limit: 5 })).toHaveLength(1);
    expect(synchronous()).toBe(FULL);

    const before = relaxed;
    const { key } = await createKey(store, { name: 'k' }, 1000);
    await store.appendCredit(key.id, 5_000_000, 'credit', { actor: 'test', requestId: null, now: 1000 });
    expect(relaxed).toBe(before); // keys and credits: synced

    await store.touchKeys(new Map([[key.id, 2000]]));
    expect(relaxed).toBe(before + 1);
    expect((await store.getKey(key.id))!.lastUsedAt).toBe(2000);

    // A job's hold, submission and settlement commit at FULL; a poll's result (progress) is the
    // one job write that goes without a sync of its own (losing it costs a poll, never money).
    const hold = await store.placeHold(
      { id: 'job_1', keyId: key.id, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: 4, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: 400_000, requestId: 'req_2' },
      { actor: 'test', requestId: 'req_2', now: 3000 },
      { maxInflightJobs: null },
    );
    expect(hold.ok).toBe(true);
    await store.recordSubmitted('job_1', { videoId: 'video_1', status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt: 4000 }, 3000);
    expect(relaxed).toBe(before + 1); // the hold and the submission: synced
    await store.recordProgress('job_1', { status: 'in_progress', progress: 50, nextPollAt: 6000 }, 5000);
    expect(relaxed).toBe(before + 2); // a poll's result: relaxed
    expect(synchronous()).toBe(FULL);
    await store.settleJob('job_1', { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: 7000 }, { actor: 'test', requestId: null, now: 7000 });
    expect(await store.getJob('job_1')).toMatchObject({ status: 'completed', chargedMicros: 400_000 });
    expect(relaxed).toBe(before + 2); // the settlement: synced
  });
});
