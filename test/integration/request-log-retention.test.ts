/**
 * Request-log retention (REQUEST_LOG_RETENTION_DAYS): rows past it are deleted in the background,
 * in short statements with the event loop handed back between them; nothing else is ever deleted.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMigratedDatabase, type Database_ } from '../../src/db/client.js';
import { createStore, type Store } from '../../src/db/store.js';
import { createKey } from '../../src/keys/service.js';
import { newId } from '../../src/ids.js';
import { silentLogger } from '../../src/logging/logger.js';
import { RequestLogPruner } from '../../src/logging/request-log-pruner.js';
import { loadConfig } from '../../src/config.js';
import { startReelay } from '../../src/server.js';
import { TestClock } from '../helpers/clock.js';

const DAY = 24 * 3600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-retention-'));
  dirs.push(dir);
  return join(dir, 'reelay.db');
}

async function logRows(store: Store, times: number[]): Promise<void> {
  await store.insertRequestLogBatch(
    times.map((createdAt, i) => ({ requestId: `req_${createdAt}_${i}`, method: 'GET', route: '/v1/videos/:id', status: 200, durationMs: 1, createdAt })),
  );
}

/** Keys, credit, a settled job with its ledger entries and audit rows, all from long ago. */
async function seedEverythingElse(store: Store, at: number): Promise<void> {
  const { key } = await createKey(store, { name: 'old key' }, at);
  await store.appendCredit(key.id, 10_000_000, 'old credit', { actor: 'test', requestId: null, now: at });
  await store.appendAudit({ actor: 'admin', action: 'key.create', targetId: key.id, requestId: null, details: {}, now: at });
  const id = newId('job');
  const who = { actor: 'test', requestId: 'req_old_job', now: at };
  const hold = await store.placeHold(
    { id, keyId: key.id, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: 4, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: 400_000, requestId: who.requestId },
    who,
    { maxInflightJobs: null },
  );
  if (!hold.ok) throw new Error(hold.reason);
  await store.recordSubmitted(id, { videoId: 'video_old', status: 'queued', progress: 0, upstreamRequestId: 'upreq_old', nextPollAt: at + 1000 }, at);
  await store.settleJob(id, { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: at + 60_000 }, { actor: 'system', requestId: null, now: at + 60_000 });
}

function tableCounts(database: Database_): Record<string, number> {
  const tables = database.sqlite.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%'").all() as { name: string }[];
  return Object.fromEntries(tables.map(({ name }) => [name, (database.sqlite.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n]));
}

describe('request-log retention', () => {
  it('deletes rows past retention in batches of at most 1000, keeps newer rows and every other table', async () => {
    const clock = new TestClock();
    const database = openMigratedDatabase(tempFile());
    const store = createStore(database);
    const now = clock.now();
    await seedEverythingElse(store, now - 400 * DAY);
    await logRows(store, Array.from({ length: 2500 }, (_, i) => now - 31 * DAY - i * 1000));
    await logRows(store, [now - 30 * DAY - 1, now - 30 * DAY, now - 30 * DAY + 1, now - DAY, now]);
    const before = tableCounts(database);
    expect(before.request_log).toBe(2505);
    for (const table of ['api_keys', 'ledger', 'jobs', 'audit_log']) expect(before[table], table).toBeGreaterThan(0);

    const batches: number[] = [];
    const counted = { deleteRequestLogBefore: async (t: number, limit: number) => { const n = await store.deleteRequestLogBefore(t, limit); batches.push(n); return n; } };
    const pruner = new RequestLogPruner({ store: counted, logger: silentLogger(), now: clock.now, retentionDays: 30 });
    expect(await pruner.prune()).toBe(2501);

    expect(batches).toEqual([1000, 1000, 501]);
    const left = database.sqlite.prepare('select created_at as t from request_log order by created_at').all() as { t: number }[];
    expect(left.map((r) => r.t)).toEqual([now - 30 * DAY, now - 30 * DAY + 1, now - DAY, now]);
    expect(tableCounts(database)).toEqual({ ...before, request_log: 4 });

    // A day later, the rows that have aged past retention go too; a pass with nothing to do deletes nothing.
    clock.advance(DAY);
    expect(await pruner.prune()).toBe(2);
    expect(await pruner.prune()).toBe(0);
    expect(tableCounts(database)).toEqual({ ...before, request_log: 2 });
    database.close();
  });

  it('hands the event loop back between two delete statements', async () => {
    const clock = new TestClock();
    const database = openMigratedDatabase(tempFile());
    const store = createStore(database);
    await logRows(store, Array.from({ length: 25 }, (_, i) => clock.now() - 40 * DAY - i));
    const events: string[] = [];
    const counted = {
      deleteRequestLogBefore: async (t: number, limit: number) => {
        events.push('delete');
        // A request arriving while the second statement runs.
        if (events.length === 2) setImmediate(() => events.push('request'));
        return await store.deleteRequestLogBefore(t, limit);
      },
    };
    const pruner = new RequestLogPruner({ store: counted, logger: silentLogger(), now: clock.now, retentionDays: 30, batchRows: 10 });
    const pass = pruner.prune();
    // Only the first statement ran synchronously, and each later one waits for a turn of the event
    // loop: the request that arrived during the second statement is served before the third.
    expect(events).toEqual(['delete']);
    expect(await pass).toBe(25);
    expect(events).toEqual(['delete', 'delete', 'request', 'delete']);
    database.close();
  });

  it('ends a pass after its current statement when stopped', async () => {
    const clock = new TestClock();
    const database = openMigratedDatabase(tempFile());
    const store = createStore(database);
    await logRows(store, Array.from({ length: 50 }, (_, i) => clock.now() - 40 * DAY - i));
    const pruner = new RequestLogPruner({ store, logger: silentLogger(), now: clock.now, retentionDays: 30, batchRows: 10 });
    const pass = pruner.prune();
    await pruner.stop();
    expect(await pass).toBe(10);
    expect(tableCounts(database).request_log).toBe(40);
    database.close();
  });

  it('runs in the background of a started reelay with REQUEST_LOG_RETENTION_DAYS, and stops at shutdown', async () => {
    const clock = new TestClock();
    const file = tempFile();
    const seeded = openMigratedDatabase(file);
    await logRows(createStore(seeded), [clock.now() - 8 * DAY, clock.now() - 6 * DAY, clock.now() - 100 * DAY]);
    seeded.close();

    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: file, UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', REQUEST_LOG_RETENTION_DAYS: '7' });
    const reelay = await startReelay(config, { now: clock.now, logger: silentLogger(), reconciler: false });
    const count = () => (reelay.deps.database.sqlite.prepare('select count(*) as n from request_log').get() as { n: number }).n;
    try {
      await vi.waitFor(() => expect(count()).toBe(1), { timeout: 10_000, interval: 20 });
      const stop = vi.spyOn(reelay.requestLogPruner, 'stop');
      await reelay.close(1000);
      expect(stop).toHaveBeenCalledTimes(1);
    } finally {
      await reelay.close(1000);
    }
    const reopened = openMigratedDatabase(file);
    expect(reopened.sqlite.prepare('select created_at as t from request_log').all()).toEqual([{ t: clock.now() - 6 * DAY }]);
    reopened.close();
  });
});
