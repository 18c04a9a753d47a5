/**
 * Instance liveness and reconciler leases, on both engines (design.md, "No process may assume it
 * is alone"). Rows are arranged with plain SQL so the test depends on nothing but these units.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';

const T = 1_800_000_000_000;
const TIMEOUT = 30_000;

type Opened = OpenStore & { engine: string };

async function insertKey(s: Opened, id = 'key_1'): Promise<void> {
  await s.sql(
    `insert into api_keys (id, name, prefix, hash, created_at, balance_micros, held_micros, disabled)
     values (?, ?, ?, ?, ?, 10000000, 0, ?)`,
    [id, id, 'sk-x', `hash-${id}`, T, s.engine === 'postgres' ? false : 0],
  );
}

async function insertJob(
  s: Opened,
  j: { id: string; status: string; instanceId?: string | null; nextPollAt?: number | null; claimedBy?: string | null; claimUntil?: number | null },
): Promise<void> {
  await s.sql(
    `insert into jobs (id, video_id, key_id, kind, model, size, requested_seconds, status, rate_micros, held_micros, request_id,
       created_at, updated_at, next_poll_at, instance_id, claimed_by, claim_until)
     values (?, ?, 'key_1', 'create', 'sora-2', '720x1280', 4, ?, 100000, 400000, ?, ?, ?, ?, ?, ?, ?)`,
    [j.id, j.status === 'pending' ? null : `video_${j.id}`, j.status, `req_${j.id}`, T, T, j.nextPollAt ?? null, j.instanceId ?? null, j.claimedBy ?? null, j.claimUntil ?? null],
  );
}

const identity = (id: string) => ({ id, host: 'test-host', pid: 1234, version: '0.0.0', startedAt: T });

describe.each(engines)('coordination on $name', (engine) => {
  let s: Opened;
  beforeEach(async () => {
    s = Object.assign(await engine.open(), { engine: engine.name });
    await insertKey(s);
  });
  afterEach(async () => s.close());

  it('registers an instance, refreshes its heartbeat, and marks it stopped', async () => {
    await s.store.heartbeat(identity('a'), T);
    await s.store.heartbeat(identity('a'), T + 10_000);
    await s.store.heartbeat(identity('b'), T + 5_000);
    expect(await s.store.listInstances()).toEqual([
      { ...identity('a'), heartbeatAt: T + 10_000, stoppedAt: null },
      { ...identity('b'), heartbeatAt: T + 5_000, stoppedAt: null },
    ]);
    await s.store.markInstanceStopped('a', T + 11_000);
    expect((await s.store.listInstances()).find((r) => r.id === 'a')).toMatchObject({ stoppedAt: T + 11_000 });
  });

  it('takes a process restarted under a stopped instance’s id for alive again (its heartbeat clears the stop)', async () => {
    await s.store.heartbeat(identity('a'), T);
    await s.store.markInstanceStopped('a', T + 1_000);
    const restarted = { ...identity('a'), pid: 5678, startedAt: T + 2_000 };
    await s.store.heartbeat(restarted, T + 2_000);
    expect(await s.store.listInstances()).toEqual([{ ...restarted, heartbeatAt: T + 2_000, stoppedAt: null }]);
    // Its pending create is its own again: a peer does not take it over.
    await insertJob(s, { id: 'j_a', status: 'pending', instanceId: 'a' });
    expect(await s.store.pendingJobsOfDeadInstances({ deadBefore: T + 2_000 - TIMEOUT, self: 'b', selfStaleBefore: T, limit: 10 })).toEqual([]);
  });

  it('hands over pending creates only from dead instances, never the caller’s own', async () => {
    await s.store.heartbeat(identity('alive'), T + 50_000);
    await s.store.heartbeat(identity('silent'), T + 10_000);
    await s.store.heartbeat(identity('stopped'), T + 50_000);
    await s.store.markInstanceStopped('stopped', T + 50_000);
    await insertJob(s, { id: 'j_alive', status: 'pending', instanceId: 'alive' });
    await insertJob(s, { id: 'j_silent', status: 'pending', instanceId: 'silent' });
    await insertJob(s, { id: 'j_stopped', status: 'pending', instanceId: 'stopped' });
    await insertJob(s, { id: 'j_unknown', status: 'pending', instanceId: 'never-seen' });
    await insertJob(s, { id: 'j_legacy', status: 'pending', instanceId: null });
    await insertJob(s, { id: 'j_mine', status: 'pending', instanceId: 'me' });
    await insertJob(s, { id: 'j_queued', status: 'queued', instanceId: 'silent', nextPollAt: T });
    const at = (now: number, selfStaleBefore = T) => s.store.pendingJobsOfDeadInstances({ deadBefore: now - TIMEOUT, self: 'me', selfStaleBefore, limit: 100 });
    expect((await at(T + 60_000)).map((j) => j.id).sort()).toEqual(['j_legacy', 'j_silent', 'j_stopped', 'j_unknown']);
    // Once 'alive' falls silent too, its create is handed over as well; the caller's own is not…
    const later = (await at(T + 90_000)).map((j) => j.id);
    expect(later).toContain('j_alive');
    expect(later).not.toContain('j_mine');
    // …until it is older than any create can take (its request ended without settling it).
    expect((await at(T + 90_000, T + 1)).map((j) => j.id)).toContain('j_mine');
  });

  it('leases due jobs to one instance at a time, most overdue first, and takes over a dead holder’s leases', async () => {
    await s.store.heartbeat(identity('a'), T);
    await s.store.heartbeat(identity('b'), T);
    await insertJob(s, { id: 'j1', status: 'queued', nextPollAt: T - 3000 });
    await insertJob(s, { id: 'j2', status: 'in_progress', nextPollAt: T - 1000 });
    await insertJob(s, { id: 'j3', status: 'in_progress', nextPollAt: T - 2000 });
    await insertJob(s, { id: 'j_future', status: 'queued', nextPollAt: T + 60_000 });
    await insertJob(s, { id: 'j_done', status: 'completed', nextPollAt: T - 5000 });
    const lease = { now: T, claimUntil: T + 45_000, deadBefore: T - TIMEOUT };
    const a = await s.store.claimDueJobs({ ...lease, instanceId: 'a', limit: 2 });
    expect(a.map((j) => j.id)).toEqual(['j1', 'j3']);
    expect(a[0]).toMatchObject({ claimedBy: 'a', claimUntil: T + 45_000 });
    expect((await s.store.claimDueJobs({ ...lease, instanceId: 'b', limit: 10 })).map((j) => j.id)).toEqual(['j2']);
    expect(await s.store.claimDueJobs({ ...lease, instanceId: 'b', limit: 10 })).toEqual([]);
    // 'a' and 'b' fall silent; 'c' takes their leases before the leases run out.
    await s.store.heartbeat(identity('c'), T + 40_000);
    const takeover = await s.store.claimDueJobs({ now: T + 40_000, claimUntil: T + 85_000, deadBefore: T + 40_000 - TIMEOUT, instanceId: 'c', limit: 10 });
    expect(takeover.map((j) => j.id).sort()).toEqual(['j1', 'j2', 'j3']);
  });

  it('a poll’s result ends its lease', async () => {
    await s.store.heartbeat(identity('a'), T);
    for (const id of ['j1', 'j2', 'j3']) await insertJob(s, { id, status: 'queued', nextPollAt: T - 1000 });
    await s.store.claimDueJobs({ instanceId: 'a', now: T, claimUntil: T + 45_000, deadBefore: T - TIMEOUT, limit: 10 });
    await s.store.recordProgress('j1', { status: 'in_progress', progress: 10, nextPollAt: T + 5000 }, T);
    await s.store.recordPollFailure('j2', T + 5000, T);
    await s.store.recordNotFound('j3', T, 60_000, T + 5000);
    for (const id of ['j1', 'j2', 'j3']) expect(await s.store.getJob(id)).toMatchObject({ claimedBy: null, claimUntil: null, nextPollAt: T + 5000 });
  });

  it('never leases one job to two instances leasing at once', async () => {
    for (const id of ['a', 'b', 'c', 'd']) await s.store.heartbeat(identity(id), T);
    for (let i = 0; i < 60; i++) await insertJob(s, { id: `j${String(i).padStart(2, '0')}`, status: 'queued', nextPollAt: T - i });
    const lease = { now: T, claimUntil: T + 45_000, deadBefore: T - TIMEOUT, limit: 7 };
    const rounds = await Promise.all(Array.from({ length: 12 }, (_, i) => s.store.claimDueJobs({ ...lease, instanceId: ['a', 'b', 'c', 'd'][i % 4]! })));
    const ids = rounds.flat().map((j) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(60);
  });

  it('forgets long-silent instances that hold no pending create', async () => {
    await s.store.heartbeat(identity('old'), T);
    await s.store.heartbeat(identity('old-with-work'), T);
    await s.store.heartbeat(identity('recent'), T + 100_000);
    await insertJob(s, { id: 'j', status: 'pending', instanceId: 'old-with-work' });
    expect(await s.store.purgeInstances(T + 50_000)).toBe(1);
    expect((await s.store.listInstances()).map((r) => r.id).sort()).toEqual(['old-with-work', 'recent']);
  });
});
