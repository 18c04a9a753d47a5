import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import { T0, fundedKey, heldJob, who } from './fixtures.js';
import { FIRST_COOLDOWN_MS } from '../../src/relay/health.js';

const sub = async (store: Store, jobId: string, videoId: string, now = T0) =>
  store.recordSubmitted(jobId, { videoId, status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt: now + 1000 }, now);

describe.each(engines)('upstreams store on $name', (engine) => {
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

  it('records create results in the shared row: five failures cool down, a success clears it', async () => {
    expect(await store.listUpstreamHealth()).toEqual([]);
    for (let i = 1; i <= 4; i++) await store.recordUpstreamCreate('a', { ok: false, error: 'upstream answered 503', retryAfterMs: null }, T0 + i);
    expect(await store.listUpstreamHealth()).toEqual([expect.objectContaining({ id: 'a', consecutiveFailures: 4, cooldownUntil: null })]);
    const fifth = await store.recordUpstreamCreate('a', { ok: false, error: 'connection failed', retryAfterMs: null }, T0 + 5);
    expect(fifth).toMatchObject({ consecutiveFailures: 5, cooldownUntil: T0 + 5 + FIRST_COOLDOWN_MS, cooldownMs: FIRST_COOLDOWN_MS, lastError: 'connection failed', lastErrorAt: T0 + 5 });
    const [row] = await store.listUpstreamHealth();
    expect(row).toEqual(fifth);
    await store.recordUpstreamCreate('a', { ok: true }, T0 + 6);
    expect((await store.listUpstreamHealth())[0]).toMatchObject({ consecutiveFailures: 0, cooldownUntil: null, cooldownMs: 0, lastError: 'connection failed' });
  });

  it('concurrent failures from several instances are all counted', async () => {
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.recordUpstreamCreate('a', { ok: false, error: 'x', retryAfterMs: null }, T0 + i)));
    expect((await store.listUpstreamHealth())[0]!.consecutiveFailures).toBe(12);
  });

  it('gives the trial after a cooldown to one claimant only, and only once the cooldown is over', async () => {
    for (let i = 1; i <= 5; i++) await store.recordUpstreamCreate('a', { ok: false, error: 'x', retryAfterMs: null }, T0);
    const over = T0 + FIRST_COOLDOWN_MS;
    expect(await store.claimUpstreamTrial('a', over - 1, over + 1000)).toBe(false);
    const claims = await Promise.all([1, 2, 3].map(() => store.claimUpstreamTrial('a', over, over + 1000)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await store.claimUpstreamTrial('a', over + 1000, over + 2000)).toBe(true); // the first trial's claim ran out
    expect(await store.claimUpstreamTrial('healthy', over, over + 1000)).toBe(false);
  });

  it('a manual disable is stored with its audit entry and survives failures and successes', async () => {
    const row = await store.setUpstreamEnabled('a', false, who(T0, 'admin'), { action: 'upstream.disable', targetId: 'a', details: { enabled: false } });
    expect(row).toMatchObject({ id: 'a', manualEnabled: false, manualBy: 'admin' });
    await store.recordUpstreamCreate('a', { ok: false, error: 'x', retryAfterMs: null }, T0 + 1);
    await store.recordUpstreamCreate('a', { ok: true }, T0 + 2);
    expect((await store.listUpstreamHealth())[0]).toMatchObject({ manualEnabled: false });
    const audit = await store.listAudit({ limit: 5 });
    expect(audit[0]).toMatchObject({ action: 'upstream.disable', targetId: 'a', actor: 'admin' });
    await store.setUpstreamEnabled('a', true, who(T0 + 3, 'admin'), { action: 'upstream.enable', targetId: 'a', details: { enabled: true } });
    expect((await store.listUpstreamHealth())[0]).toMatchObject({ manualEnabled: true });
  });

  it('counts open jobs per upstream and keeps max_inflight_jobs across concurrent assignments', async () => {
    const a1 = await heldJob(store, keyId, { upstreamId: 'a' });
    await heldJob(store, keyId, { upstreamId: 'b' });
    expect((await store.openJobsByUpstream()).sort((x, y) => x.upstreamId.localeCompare(y.upstreamId))).toEqual([
      { upstreamId: 'a', n: 1 },
      { upstreamId: 'b', n: 1 },
    ]);
    // Five pending jobs race for the two places left on `a` (max 3).
    const racers = await Promise.all(Array.from({ length: 5 }, () => heldJob(store, keyId, { upstreamId: 'b' })));
    const won = await Promise.all(racers.map((j) => store.assignJobUpstream(j.id, 'a', 3, T0 + 1)));
    expect(won.filter(Boolean)).toHaveLength(2);
    expect((await store.openJobsByUpstream()).find((r) => r.upstreamId === 'a')?.n).toBe(3);
    // A job already counted on `a` is not counted against itself; without a limit it always moves.
    expect(await store.assignJobUpstream(a1.id, 'a', 3, T0 + 2)).toBe(true);
    expect(await store.assignJobUpstream(racers[0]!.id, 'c', null, T0 + 2)).toBe(true);
    expect((await store.getJob(racers[0]!.id))!.upstreamId).toBe('c');
  });

  it('video ids are unique per upstream, not globally; look-ups by video id stay within the key', async () => {
    const other = (await fundedKey(store, 1_000_000_000)).id;
    const a = await heldJob(store, keyId, { upstreamId: 'a' }, T0);
    const b = await heldJob(store, other, { upstreamId: 'b' }, T0 + 1);
    const a2 = await heldJob(store, other, { upstreamId: 'a' }, T0 + 2);
    expect(await sub(store, a.id, 'video_same')).toMatchObject({ upstreamId: 'a' });
    expect(await sub(store, b.id, 'video_same')).toMatchObject({ upstreamId: 'b' });
    // The same provider handing out the same id twice is still a duplicate.
    expect(await sub(store, a2.id, 'video_same')).toBe('duplicate');
    expect((await store.getJobForRequest(keyId, 'video_same'))!.id).toBe(a.id);
    expect((await store.getJobForRequest(other, 'video_same'))!.id).toBe(b.id);
    expect((await store.getJobByVideoId('video_same', keyId))!.id).toBe(a.id);
    expect((await store.getJobByVideoId('video_same', other))!.id).toBe(b.id);
  });

  it('request-log rows keep the upstream they reached (null when none)', async () => {
    await store.insertRequestLogBatch([
      { requestId: 'req_u1', method: 'POST', route: '/v1/videos', upstreamId: 'acct-a', status: 503, errorCode: 'failover_upstream_503', durationMs: 3, createdAt: T0 },
      { requestId: 'req_u1', method: 'POST', route: '/v1/videos', upstreamId: 'acct-b', status: 200, durationMs: 5, createdAt: T0 },
      { requestId: 'req_u2', method: 'GET', route: '/v1/models', status: 200, durationMs: 1, createdAt: T0 },
    ]);
    const rows = await store.searchRequestLog({ limit: 10 });
    expect(rows.map((r) => [r.requestId, r.upstreamId]).sort()).toEqual([
      ['req_u1', 'acct-a'],
      ['req_u1', 'acct-b'],
      ['req_u2', null],
    ]);
  });

  it('24 h figures per upstream: jobs taken (not refused creates) and those failed, expired or unknown', async () => {
    const j = async (upstreamId: string, outcome: 'completed' | 'failed' | 'rejected' | 'unknown' | null, at = T0) => {
      const job = await heldJob(store, keyId, { upstreamId }, at);
      if (outcome === 'rejected') return store.settleJob(job.id, { kind: 'rejected', errorCode: 'upstream_400' }, who(at));
      await sub(store, job.id, `video_${job.id}`, at);
      if (outcome === 'completed') await store.settleJob(job.id, { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: at }, who(at));
      if (outcome === 'failed') await store.settleJob(job.id, { kind: 'failed', finalObject: null, errorCode: null }, who(at));
      if (outcome === 'unknown') await store.settleJob(job.id, { kind: 'unknown', reason: 'x' }, who(at));
    };
    await j('a', 'completed');
    await j('a', 'failed');
    await j('a', 'unknown');
    await j('a', 'rejected');
    await j('a', null);
    await j('b', 'completed', T0 - 1);
    const stats = await store.upstreamJobStats(T0);
    expect(stats).toEqual([{ upstreamId: 'a', jobs: 4, failed: 2 }]);
  });

  it('completion times per upstream: completed jobs created since, newest first, at most `limit`', async () => {
    const done = async (upstreamId: string, createdAt: number, tookMs: number) => {
      const job = await heldJob(store, keyId, { upstreamId }, createdAt);
      await sub(store, job.id, `video_${job.id}`, createdAt);
      await store.settleJob(job.id, { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: createdAt + tookMs }, who(createdAt + tookMs));
    };
    await done('a', T0 + 10, 30_000);
    await done('a', T0 + 20, 90_000);
    await done('b', T0 + 30, 45_000);
    await done('b', T0 - 1, 1_000); // before `since`
    const failed = await heldJob(store, keyId, { upstreamId: 'b' }, T0 + 40);
    await sub(store, failed.id, `video_${failed.id}`, T0 + 40);
    await store.settleJob(failed.id, { kind: 'failed', finalObject: null, errorCode: null }, who(T0 + 50));
    expect(await store.upstreamCompletionTimes(T0, 10)).toEqual([
      { upstreamId: 'b', ms: 45_000 },
      { upstreamId: 'a', ms: 90_000 },
      { upstreamId: 'a', ms: 30_000 },
    ]);
    expect(await store.upstreamCompletionTimes(T0, 1)).toEqual([{ upstreamId: 'b', ms: 45_000 }]);
  });
});
