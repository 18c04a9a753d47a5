import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { createKey } from '../../src/keys/service.js';
import { ENGINE_NAMES, newTestDatabase, type TestDatabase } from '../helpers/engine-databases.js';

/**
 * A real reelay process is killed with SIGKILL at random moments (10 kills) while 200 job
 * lifecycles run against the simulator, and restarted each time. Afterwards every completed job is
 * charged exactly once, every other job nothing, no hold is left open, and the database is intact.
 * Once on a SQLite file, once on a PostgreSQL database of its own.
 */
const KILLS = 10;
const LIFECYCLES = 200;
const ROOT = new URL('../..', import.meta.url).pathname;

let sim: SimulatorHandle;
let db: TestDatabase;
let port: number;
let child: ChildProcess | null = null;
const logs: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function startReelayProcess(): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_API_KEY: 'sk-upstream-crash',
      ADMIN_TOKEN: 'crash-admin-token-0123456789',
      LOG_LEVEL: 'warn',
      RECONCILER_INTERVAL_MS: '100',
      // A killed instance's unfinished creates are released once it has been silent this long.
      INSTANCE_TIMEOUT_MS: '1500',
      ARCHIVE_URL: 'off',
      RECONCILER_MIN_POLL_MS: '100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  proc.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  // A deadline rather than a count of tries: on a loaded machine a cold `tsx` start alone can take
  // several seconds.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (proc.exitCode !== null) throw new Error(`reelay exited: ${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('reelay did not start within 30 s');
}

function kill(): Promise<void> {
  const proc = child;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 1500, apiKey: 'sk-upstream-crash' });
  port = await freePort();
});

afterAll(async () => {
  await kill();
  await sim.close();
});

describe.each(ENGINE_NAMES)('crash safety (%s)', (engine) => {
  afterAll(async () => {
    await kill();
    await db?.remove();
  });

  it('charges every completed job exactly once across 10 SIGKILLs during 200 lifecycles', async () => {
    db = await newTestDatabase(engine, 'reelay-crash-');
    logs.length = 0;
    // Keys with enough credit for everything, made before the server starts.
    const setup = await db.openStore();
    const store = setup.store;
    const secrets: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { key, secret } = await createKey(store, { name: `crash ${i}` }, Date.now());
      await store.appendCredit(key.id, 200_000_000, 'crash test', { actor: 'test', requestId: null, now: Date.now() });
      secrets.push(secret);
    }
    await setup.close();
    await startReelayProcess();

    const base = () => `http://127.0.0.1:${port}/v1`;
    let stop = false;
    // Lifecycle i: create (retrying through restarts with the same Idempotency-Key), then some
    // clients poll until done and others never poll again.
    const lifecycle = async (i: number) => {
      const secret = secrets[i % secrets.length]!;
      const body = JSON.stringify({ prompt: i % 5 === 0 ? `crash ${i} [fail]` : `crash ${i}`, seconds: ['4', '8', '12'][i % 3] });
      let id: string | null = null;
      // Retry for a while, not a number of times: restarts are slow on a loaded machine, and a
      // client that gives up early leaves fewer jobs for the checks below.
      const giveUpAt = Date.now() + 60_000;
      while (!id && Date.now() < giveUpAt) {
        try {
          const res = await fetch(`${base()}/videos`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'idempotency-key': `crash-${i}` },
            body,
          });
          if (res.status === 200) id = ((await res.json()) as { id: string }).id;
          // An unknown outcome (the create was interrupted by a kill): a client must not retry it.
          else if (res.headers.get('x-should-retry') === 'false') return;
          else if (res.status >= 500 || res.status === 409) await new Promise((r) => setTimeout(r, 100));
          else throw new Error(`create ${i}: ${res.status} ${await res.text()}`);
        } catch (err) {
          if ((err as Error).message.startsWith('create')) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (!id || i % 2 === 0) return;
      for (let p = 0; p < 200 && !stop; p++) {
        try {
          const res = await fetch(`${base()}/videos/${id}`, { headers: { authorization: `Bearer ${secret}` } });
          if (res.ok && ['completed', 'failed'].includes(((await res.json()) as { status: string }).status)) return;
        } catch {
          /* server down: try again */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    const killer = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 600));
        await kill();
        await startReelayProcess();
      }
    })();
    const clients = Promise.all(Array.from({ length: LIFECYCLES }, (_, i) => new Promise((r) => setTimeout(r, i * 15)).then(() => lifecycle(i))));
    await killer;
    await clients;
    stop = true;

    // Let the reconciler settle everything that is still open (bounded wait).
    const check = await db.openReader();
    try {
      for (let i = 0; i < 150; i++) {
        const open = (await check.get<{ n: number }>("select count(*) as n from jobs where status in ('pending','queued','in_progress')"))!;
        if (open.n === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await kill();
      const jobs = await check.all<{
        video_id: string | null;
        status: string;
        requested_seconds: number;
        billed_seconds: number | null;
        charged_micros: number;
        held_micros: number;
      }>('select video_id, status, requested_seconds, billed_seconds, charged_micros, held_micros from jobs');
      expect(jobs.filter((j) => ['pending', 'queued', 'in_progress'].includes(j.status))).toEqual([]);
      let completed = 0;
      for (const j of jobs) {
        if (j.status === 'completed') {
          completed++;
          expect(j.charged_micros).toBe(j.billed_seconds! * 100_000);
          expect(sim.sim.jobs.get(j.video_id!)).toBeTruthy();
        } else {
          expect(j.charged_micros).toBe(0);
        }
      }
      // Enough lifecycles got through for the checks above to mean something. (A create in flight
      // at a kill is an unknown outcome for good: its retries with the same Idempotency-Key get that
      // answer, so those lifecycles never complete; on a loaded machine a run had 92 of 200.)
      expect(completed).toBeGreaterThan(LIFECYCLES / 4);
      const captures = await check.all("select job_id, count(*) as n from ledger where kind = 'capture' group by job_id having count(*) > 1");
      expect(captures).toEqual([]);
      expect((await check.get<{ h: number }>('select sum(held_micros) as h from api_keys'))!.h).toBe(0);
      expect(await check.ledgerViolations()).toEqual([]);
      expect(await check.integrity()).toBe('ok');
      // Failed jobs that reelay learnt of were all free.
      const failed = jobs.filter((j) => j.status === 'failed');
      expect(failed.length).toBeGreaterThan(0);
    } finally {
      await check.close();
    }
  }, 300_000); // about 15 s (90 s on a loaded 2-core machine)
});
