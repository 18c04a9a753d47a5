import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { createVideo, killAll, makeKey, openTestStore, query, sleep, startFakeUpstream, startInstances, waitFor, type ReelayProcess, type UpPoll } from './cluster.js';

/**
 * Two reelay processes on one PostgreSQL database share the reconciler's work (contract §9): with
 * 200 running jobs, each due job is polled by one instance at a time (never twice within the
 * 1.5 s the contract allows), and the jobs a SIGKILLed instance was polling are polled by the
 * other within 60 s, with the default timings (instance timeout 30 s, lease 45 s, polls every 2 s).
 */
const JOBS = 200;

let pgdb: TestPgDatabase;
let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
let procs: ReelayProcess[] = [];
let t: ReturnType<typeof openTestStore>;

beforeAll(async () => {
  pgdb = await freshPgDatabase();
  upstream = await startFakeUpstream();
  t = openTestStore(pgdb.url);
  procs = await startInstances(2, pgdb.url, upstream.url, {}, 'share-');
}, 60_000);

afterAll(async () => {
  await killAll(procs);
  await t?.database.close();
  await upstream?.close();
  await pgdb?.drop();
});

/** Per video id, the gaps between consecutive status polls (ms). */
function gaps(polls: UpPoll[]): Map<string, number[]> {
  const last = new Map<string, number>();
  const out = new Map<string, number[]>();
  for (const p of polls) {
    const prev = last.get(p.videoId);
    if (prev !== undefined) out.set(p.videoId, [...(out.get(p.videoId) ?? []), p.at - prev]);
    last.set(p.videoId, p.at);
  }
  return out;
}

describe('the reconciler on two instances', () => {
  it('polls each due job from one instance at a time, and takes over a killed instance’s leased jobs within 60 s', async () => {
    const key = await makeKey(t.store, { name: 'reconciler' }, 1_000_000_000);
    // 200 running jobs, created through both instances, 20 at a time.
    const ids: string[] = [];
    for (let b = 0; b < JOBS; b += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, i) => createVideo(procs[(b + i) % 2]!.base, key.secret, { model: 'sora-2', prompt: `share ${b + i}`, seconds: '4' })),
      );
      for (const r of batch) {
        expect(r.status).toBe(200);
        ids.push(r.body.id as string);
      }
    }
    expect(upstream.creates).toHaveLength(JOBS);

    // Both instances reconcile for a while: every job is polled, each at most once per due period.
    const from = upstream.polls.length;
    await sleep(7000);
    const window = upstream.polls.slice(from);
    const polled = new Set(window.map((p) => p.videoId));
    expect(polled.size).toBe(JOBS);
    const tooClose = [...gaps(window)].flatMap(([id, g]) => g.filter((ms) => ms < 1500).map((ms) => `${id}: ${ms} ms`));
    expect(tooClose).toEqual([]);

    // Polls now hang upstream, so each instance holds leases on the jobs it is polling (both
    // instances lease at once: the work is shared); then one is SIGKILLed with its leases outstanding.
    let open!: () => void;
    upstream.state.pollGate = new Promise<void>((resolve) => (open = resolve));
    expect(
      await waitFor(async () => {
        const rows = await query<{ claimed_by: string; n: string }>(
          t.database,
          'select claimed_by, count(*) as n from jobs where claimed_by is not null and claim_until > $1 group by claimed_by',
          [Date.now()],
        );
        return rows.length === 2;
      }, 15_000),
    ).toBe(true);
    const victim = procs[0]!;
    const leased = (
      await query<{ video_id: string }>(t.database, 'select video_id from jobs where claimed_by = $1 and claim_until > $2', ['share-0', Date.now()])
    ).map((r) => r.video_id);
    expect(leased.length).toBeGreaterThan(0);
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    const afterKill = upstream.polls.length;
    open();
    upstream.state.pollGate = null;

    // The survivor polls every one of them within 60 s of the kill.
    const repolled = await waitFor(() => {
      const seen = new Set(upstream.polls.slice(afterKill).map((p) => p.videoId));
      return leased.every((id) => seen.has(id));
    }, 60_000, 250);
    const took = Date.now() - killedAt;
    expect(repolled).toBe(true);
    expect(took).toBeLessThan(60_000);
    // … and still never twice within 1.5 s.
    const late = upstream.polls.slice(afterKill);
    expect([...gaps(late)].flatMap(([id, g]) => g.filter((ms) => ms < 1500).map((ms) => `${id}: ${ms} ms`))).toEqual([]);
    console.log(`reconciler sharing: ${leased.length} leased jobs of the killed instance polled again by the survivor ${took} ms after the kill`);
  }, 120_000);
});
