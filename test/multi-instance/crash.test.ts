import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { UPSTREAM_KEY } from '../reliability/support.js';
import { RATE_MICROS, killAll, makeKey, openTestStore, query, sleep, startInstances, waitFor, type ReelayProcess } from './cluster.js';

/**
 * Three reelay processes on one PostgreSQL database, SIGKILLed one at a time (8 kills) at random moments
 * while 120 job lifecycles run against the simulator; each killed process is restarted under its
 * own INSTANCE_ID (as a supervisor or a StatefulSet would). A client whose instance dies retries its
 * create, with the same Idempotency-Key, on the next instance. Afterwards: every completed job is
 * charged exactly once at its billed seconds, everything else nothing, no hold is left open, the
 * ledger is consistent, and every job the upstream made is known to reelay or was released as an
 * unknown outcome (so no upstream job went unbilled without an incident).
 */
const LIFECYCLES = 120;
const KILLS = 8;
const ENV = {
  INSTANCE_TIMEOUT_MS: '1500',
  RECONCILER_INTERVAL_MS: '100',
  RECONCILER_MIN_POLL_MS: '200',
  UPSTREAM_API_KEY: UPSTREAM_KEY,
};

let pgdb: TestPgDatabase;
let sim: SimulatorHandle;
let procs: ReelayProcess[] = [];
let t: ReturnType<typeof openTestStore>;

beforeAll(async () => {
  pgdb = await freshPgDatabase();
  sim = await startSimulator({ jobDurationMs: 1500, apiKey: UPSTREAM_KEY });
  // Creates take a moment upstream, so some kills land between the upstream's answer and reelay's record.
  sim.sim.setLatencyMs(400);
  t = openTestStore(pgdb.url);
  procs = await startInstances(3, pgdb.url, sim.url, ENV, 'crash-');
}, 60_000);

afterAll(async () => {
  await killAll(procs);
  await t?.database.close();
  await sim?.close();
  await pgdb?.drop();
});

describe('SIGKILL of instances sharing one PostgreSQL database', () => {
  it('charges every completed job exactly once and frees everything else across 8 kills during 120 lifecycles on 3 instances', async () => {
    // One key per lifecycle, so that each upstream job can be traced to the reelay rows of its client.
    const keys = await Promise.all(Array.from({ length: LIFECYCLES }, (_, i) => makeKey(t.store, { name: `crash ${i}` }, 10_000_000)));
    const outcome = { created: 0, gaveUp: 0, unknown: 0 };
    let stop = false;

    const lifecycle = async (i: number) => {
      const { secret } = keys[i]!;
      const prompt = i % 5 === 0 ? `mi crash ${i} [fail]` : `mi crash ${i}`;
      const body = JSON.stringify({ model: 'sora-2', prompt, seconds: ['4', '8', '12'][i % 3] });
      let id: string | null = null;
      let n = i;
      const giveUpAt = Date.now() + 45_000;
      while (!id && Date.now() < giveUpAt) {
        const p = procs[n % procs.length]!;
        try {
          const res = await fetch(`${p.base}/v1/videos`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'idempotency-key': `mi-crash-${i}` },
            body,
          });
          const text = await res.text();
          if (res.status === 200) id = (JSON.parse(text) as { id: string }).id;
          else if (res.headers.get('x-should-retry') === 'false') {
            // An unknown outcome: the client must not retry it.
            outcome.unknown++;
            return;
          } else if (res.status >= 500 || res.status === 409) await sleep(100);
          else throw new Error(`create ${i}: ${res.status} ${text}`);
        } catch (err) {
          if ((err as Error).message.startsWith('create')) throw err;
          // That instance is down: go to the next one.
          n++;
          await sleep(50);
        }
      }
      if (!id) {
        outcome.gaveUp++;
        return;
      }
      outcome.created++;
      if (i % 2 === 0) return;
      for (let k = 0; k < 200 && !stop; k++, n++) {
        try {
          const res = await fetch(`${procs[n % procs.length]!.base}/v1/videos/${id}`, { headers: { authorization: `Bearer ${secret}` } });
          if (res.ok && ['completed', 'failed'].includes(((await res.json()) as { status: string }).status)) return;
        } catch {
          /* that instance is down: the next one */
        }
        await sleep(100);
      }
    };

    const killer = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await sleep(300 + Math.random() * 900);
        const victim = procs[Math.floor(Math.random() * procs.length)]!;
        await victim.stop('SIGKILL');
        await victim.start();
      }
    })();
    const clients = Promise.all(Array.from({ length: LIFECYCLES }, (_, i) => sleep(i * 40).then(() => lifecycle(i))));
    await killer;
    await clients;
    stop = true;
    expect(procs.reduce((n, p) => n + p.starts, 0)).toBe(3 + KILLS);
    expect(outcome.created).toBeGreaterThan(LIFECYCLES / 2);

    // The reconcilers settle everything still open (bounded wait).
    const settled = await waitFor(
      async () => (await query(t.database, "select 1 from jobs where status in ('pending', 'queued', 'in_progress') limit 1")).length === 0,
      60_000,
      250,
    );
    const open = await query(t.database, "select id, status, instance_id, created_at from jobs where status in ('pending', 'queued', 'in_progress')");
    expect({ settled, open }).toEqual({ settled: true, open: [] });

    const jobs = await query<{
      key_id: string;
      video_id: string | null;
      status: string;
      billed_seconds: number | null;
      charged_micros: string;
    }>(t.database, 'select key_id, video_id, status, billed_seconds, charged_micros from jobs');
    let completed = 0;
    let failed = 0;
    for (const j of jobs) {
      const up = j.video_id ? sim.sim.jobs.get(j.video_id) : undefined;
      if (j.status === 'completed') {
        completed++;
        expect(up).toBeDefined();
        expect(up!.prompt).not.toContain('[fail]');
        expect(j.billed_seconds).toBe(Number(up!.seconds));
        expect(Number(j.charged_micros)).toBe(j.billed_seconds! * RATE_MICROS);
      } else {
        if (j.status === 'failed' && up) failed++;
        expect(Number(j.charged_micros)).toBe(0);
      }
    }
    expect(completed).toBeGreaterThan(LIFECYCLES / 3);
    expect(failed).toBeGreaterThan(0);
    expect(await query(t.database, "select job_id from ledger where kind = 'capture' group by job_id having count(*) > 1")).toEqual([]);
    expect(await query(t.database, 'select id, held_micros from api_keys where held_micros <> 0')).toEqual([]);
    expect(await ledgerViolations(t.store)).toEqual([]);

    // Every upstream job is one reelay knows (by its video id), or the answer to a create that reelay
    // released as an unknown outcome (its row never got a video id): per client, never more
    // upstream jobs than reelay rows, and never more unknown ones than such released rows.
    const known = new Set(jobs.map((j) => j.video_id).filter(Boolean));
    const byKey = new Map(keys.map((k, i) => [k.id, i]));
    const upstreamOf = (i: number) => [...sim.sim.jobs.values()].filter((u) => u.prompt.replace(' [fail]', '') === `mi crash ${i}`);
    const orphans: string[] = [];
    for (const [keyId, i] of byKey) {
      const rows = jobs.filter((j) => j.key_id === keyId);
      const ups = upstreamOf(i);
      expect(ups.length).toBeLessThanOrEqual(rows.length);
      const unknownUp = ups.filter((u) => !known.has(u.id));
      const releasedWithoutId = rows.filter((j) => j.video_id === null);
      expect(unknownUp.length).toBeLessThanOrEqual(releasedWithoutId.length);
      orphans.push(...unknownUp.map((u) => u.id));
      // No second upstream job for one Idempotency-Key.
      expect(ups.length, `client ${i}: upstream jobs ${ups.map((u) => u.id).join(', ')}`).toBeLessThanOrEqual(1);
    }
    console.log(`multi-instance crash: ${JSON.stringify(outcome)}, ${jobs.length} rows, ${completed} completed, ${failed} failed, ${orphans.length} upstream jobs reelay never learnt of`);
  }, 180_000);
});
