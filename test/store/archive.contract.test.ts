import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import { T0, fundedKey, submittedJob, who } from './fixtures.js';

const TIMEOUT = 30_000;
const identity = (id: string) => ({ id, host: 'h', pid: 1, version: 't', startedAt: T0 });

describe.each(engines)('archive store on $name', (engine) => {
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

  /** A job settled completed (with an archive order unless `archive` is false). */
  async function completedJob(at = T0, archive = true) {
    const job = await submittedJob(store, keyId, {}, at);
    const r = await store.settleJob(
      job.id,
      { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: at + 10, ...(archive ? { archive: { upstreamExpiresAt: at + 86_400_000 } } : {}) },
      who(at + 20),
    );
    expect(r.settled).toBe(true);
    return job;
  }

  it('writes the task in the settlement of a completed job with an archive order, and only then', async () => {
    const archived = await completedJob();
    const notArchived = await completedJob(T0, false);
    const failed = await submittedJob(store, keyId);
    await store.settleJob(failed.id, { kind: 'failed', finalObject: null, errorCode: 'x' }, who());
    expect(await store.getArchiveTask(archived.id)).toMatchObject({
      jobId: archived.id,
      videoId: archived.videoId,
      state: 'pending',
      variants: '{}',
      bytes: 0,
      attempts: 0,
      nextAttemptAt: T0 + 20,
      upstreamExpiresAt: T0 + 86_400_000,
      completedAt: T0 + 10,
      claimedBy: null,
    });
    expect(await store.getArchiveTask(notArchived.id)).toBeUndefined();
    expect(await store.getArchiveTask(failed.id)).toBeUndefined();
    expect(await store.archiveQueueLength()).toBe(1);
    // A second settle (the loser of a race) writes nothing.
    await store.settleJob(archived.id, { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: T0, archive: { upstreamExpiresAt: 1 } }, who());
    expect((await store.getArchiveTask(archived.id))!.upstreamExpiresAt).toBe(T0 + 86_400_000);
    expect((await store.getArchiveTasks([archived.id, notArchived.id, 'nope'])).map((t) => t.jobId)).toEqual([archived.id]);
  });

  it('leases due tasks to one live instance at a time and takes over from dead ones', async () => {
    const T = T0 + 1000;
    await store.heartbeat(identity('a'), T);
    await store.heartbeat(identity('b'), T);
    const jobs = [await completedJob(), await completedJob(), await completedJob()];
    const lease = { now: T, claimUntil: T + 60_000, deadBefore: T - TIMEOUT };
    const a = await store.claimArchiveTasks({ ...lease, instanceId: 'a', limit: 2 });
    expect(a).toHaveLength(2);
    expect(a[0]).toMatchObject({ claimedBy: 'a', claimUntil: T + 60_000 });
    const b = await store.claimArchiveTasks({ ...lease, instanceId: 'b', limit: 10 });
    expect(b).toHaveLength(1);
    expect(new Set([...a, ...b].map((t) => t.jobId))).toEqual(new Set(jobs.map((j) => j.id)));
    expect(await store.claimArchiveTasks({ ...lease, instanceId: 'b', limit: 10 })).toEqual([]);
    // Not due yet: a task put back for later is not claimed before its time.
    expect(await store.updateArchiveTask(b[0]!.jobId, 'b', { nextAttemptAt: T + 5000, attempts: 1, release: true }, T)).toBe(true);
    expect(await store.claimArchiveTasks({ ...lease, instanceId: 'b', limit: 10 })).toEqual([]);
    // 'a' falls silent: 'c' takes its tasks before the lease runs out.
    await store.heartbeat(identity('c'), T + 40_000);
    const takeover = await store.claimArchiveTasks({ now: T + 40_000, claimUntil: T + 100_000, deadBefore: T + 40_000 - TIMEOUT, instanceId: 'c', limit: 10 });
    expect(takeover.map((t) => t.jobId).sort()).toEqual([...a.map((t) => t.jobId), b[0]!.jobId].sort());
  });

  it('never leases one task to two instances claiming at once', async () => {
    for (const id of ['a', 'b', 'c']) await store.heartbeat(identity(id), T0);
    for (let i = 0; i < 30; i++) await completedJob();
    const lease = { now: T0 + 100, claimUntil: T0 + 60_000, deadBefore: T0 - TIMEOUT, limit: 4 };
    const rounds = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claimArchiveTasks({ ...lease, instanceId: ['a', 'b', 'c'][i % 3]! })));
    const ids = rounds.flat().map((t) => t.jobId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(30);
  });

  it('changes a task only while its holder leases it and it is pending', async () => {
    await store.heartbeat(identity('a'), T0);
    const job = await completedJob();
    await store.claimArchiveTasks({ instanceId: 'a', now: T0 + 100, claimUntil: T0 + 60_000, deadBefore: T0 - TIMEOUT, limit: 1 });
    expect(await store.updateArchiveTask(job.id, 'b', { bytes: 1 }, T0 + 200)).toBe(false);
    expect(await store.updateArchiveTask(job.id, 'a', { variants: '{"video":{"bytes":5,"contentType":"video/mp4"}}', bytes: 5 }, T0 + 200)).toBe(true);
    expect(await store.updateArchiveTask(job.id, 'a', { state: 'archived', archivedAt: T0 + 300, release: true }, T0 + 300)).toBe(true);
    expect(await store.getArchiveTask(job.id)).toMatchObject({ state: 'archived', bytes: 5, archivedAt: T0 + 300, claimedBy: null, claimUntil: null, updatedAt: T0 + 300 });
    expect(await store.archiveQueueLength()).toBe(0);
    // Archived: no longer changed by a (stale) worker.
    expect(await store.updateArchiveTask(job.id, 'a', { state: 'failed' }, T0 + 400)).toBe(false);
  });

  it('deletes once, and a worker holding the deleted task can no longer change it', async () => {
    await store.heartbeat(identity('a'), T0);
    const job = await completedJob();
    await store.claimArchiveTasks({ instanceId: 'a', now: T0 + 100, claimUntil: T0 + 60_000, deadBefore: T0 - TIMEOUT, limit: 1 });
    const [first, second] = await Promise.all([store.markArchiveDeleted(job.id, T0 + 500), store.markArchiveDeleted(job.id, T0 + 500)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    expect((first ?? second)!.state).toBe('pending');
    expect(await store.markArchiveDeleted('nope', T0)).toBeUndefined();
    expect(await store.updateArchiveTask(job.id, 'a', { state: 'archived' }, T0 + 600)).toBe(false);
    expect(await store.getArchiveTask(job.id)).toMatchObject({ state: 'deleted', deletedAt: T0 + 500, claimedBy: null, purgedAt: null });
  });

  it('lists what to purge: deleted and not purged, or completed before the retention cutoff', async () => {
    const old = await completedJob(T0);
    const deleted = await completedJob(T0 + 50_000);
    const recent = await completedJob(T0 + 100_000);
    await store.markArchiveDeleted(deleted.id, T0 + 60_000);
    const due = await store.archiveTasksToPurge(T0 + 40_000, 10);
    expect(due.map((t) => t.jobId).sort()).toEqual([old.id, deleted.id].sort());
    expect(due.find((t) => t.jobId === recent.id)).toBeUndefined();
    await store.markArchivePurged(deleted.id, T0 + 70_000);
    expect((await store.archiveTasksToPurge(T0 + 40_000, 10)).map((t) => t.jobId)).toEqual([old.id]);
    expect((await store.getArchiveTask(deleted.id))!.purgedAt).toBe(T0 + 70_000);
    // A pending (not deleted) task is never marked purged.
    await store.markArchivePurged(recent.id, T0);
    expect((await store.getArchiveTask(recent.id))!.purgedAt).toBeNull();
  });
});
