/**
 * `npm run bench`: reelay side by side with its baselines, on this machine, over loopback only.
 *
 *   npm run bench                      full run (10–13 minutes; 18 with --rounds 5)
 *   npm run bench -- --quick           short windows, no warm-up pass (about 4 minutes)
 *   options: --rounds N (≥ 3)  --only poll-running,poll-running-3up,download,archive-download,archive-rss,archive-slow-readers,…  --no-portkey  --force  --wait-quiet S  --pin
 *            --retries N     measure a disturbed time or throughput sample again up to N times
 *                            (default 2; 0 = never; memory samples never are)
 *            --compare DIR   also run reelay from another checkout (with this bench in it), e.g. the
 *                            code before a change, interleaved with this one
 *
 * Targets, each its own child process: the fast fake upstream directly ("direct"); a bare
 * pass-through proxy (node:http + undici.Pool, nothing else) as the ceiling for this architecture;
 * reelay with auth, key lookup, billing, the request log and access logs on; and, on the
 * pass-through scenarios, the Portkey gateway when it can be installed from npm. Rounds interleave
 * the targets (the order rotates every round); medians are reported. A machine already busy makes
 * the run refuse to start (or, with --force, marks the report); every sample records other
 * processes' CPU and is flagged when it was disturbed.
 */
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import {
  BENCH_DIR,
  ROOT,
  PORTKEY_VERSION,
  build,
  built,
  directTarget,
  ensurePortkey,
  freePort,
  startBare,
  createVideo,
  startChild,
  startPortkey,
  startReelayPgTarget,
  startReelaySeveralUpstreamsTarget,
  SEVERAL_UPSTREAMS,
  startReelayTarget,
  startUpstream,
  tempDir,
  type Child,
  type Target,
  type TargetId,
} from './targets.js';
import type { LoadJob, LoadResult, HttpRequestSpec } from './loadgen.js';
import { cpuWindow, machineBusyCores, pinToCpu, rssBytes, rssPeak, settleRss } from './machine.js';
import { cpuPerRequest, fmt, markdown, med, median, NOISY_CORES, type Check, type Sample, type ScenarioInfo, type ScenarioResult } from './report.js';
import { measureSample } from './disturbed.js';
import { startBenchPg, cpuOf, PG_SETTINGS, type BenchPg } from './pg.js';
import { reconcilerScale, SCALE_ID, type ScaleOptions } from './reconciler-scale.js';
import { archiveBench, ARCHIVE_SCENARIOS } from './archive.js';
import { NODE_FLAGS } from '../src/runtime-flags.js';

// --- options -----------------------------------------------------------------------------------

interface Options {
  quick: boolean;
  /** another checkout of reelay (with this bench in it) to run beside this one, e.g. the code before a change */
  compare: string | null;
  rounds: number;
  only: string[] | null;
  portkey: boolean;
  force: boolean;
  waitQuietS: number;
  pin: boolean;
  /** how many times a disturbed sample is measured again */
  retries: number;
  /** run the PostgreSQL targets (embedded server) where a scenario has them */
  pg: boolean;
  /** reconciler-scale: minutes measured per configuration */
  scaleMinutes: number;
  /** reconciler-scale: open jobs */
  scaleJobs: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, compare: null, rounds: 3, only: null, portkey: true, force: false, waitQuietS: 60, pin: false, retries: 2, pg: true, scaleMinutes: 3, scaleJobs: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Math.max(3, Number(value()) || 3);
    else if (a === '--only') o.only = value().split(',');
    else if (a === '--no-portkey') o.portkey = false;
    else if (a === '--no-pg') o.pg = false;
    else if (a === '--scale-minutes') o.scaleMinutes = Math.max(0.5, Number(value()) || 3);
    else if (a === '--scale-jobs') o.scaleJobs = Math.max(100, Math.floor(Number(value())) || 10_000);
    else if (a === '--compare') o.compare = resolve(value());
    else if (a === '--force') o.force = true;
    else if (a === '--pin') o.pin = true;
    else if (a === '--wait-quiet') o.waitQuietS = Number(value()) || 0;
    else if (a === '--retries') o.retries = Math.max(0, Math.min(5, Math.floor(Number(value())) || 0));
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench -- [--quick] [--rounds N] [--only a,b] [--no-portkey] [--force] [--wait-quiet S] [--compare DIR] [--pin] [--retries N] [--no-pg] [--scale-minutes M] [--scale-jobs N]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const T = opts.quick
  ? { warmupMs: 400, durationMs: 1500, latencyMs: 1000, downloads: 3, slowMs: 2500, idleMs: 10_000, warmupPass: false }
  : { warmupMs: 1000, durationMs: 5000, latencyMs: 3000, downloads: 5, slowMs: 5000, idleMs: 20_000, warmupPass: true };
const CONCURRENCY = 64;
const SEED_JOBS = 100;
const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

// --- the load generator ------------------------------------------------------------------------

class LoadGen {
  private constructor(private readonly child: Child) {}
  static async start(): Promise<LoadGen> {
    return new LoadGen(await startChild('loadgen', built('bench/loadgen.js')));
  }
  get pid(): number {
    return this.child.pid;
  }
  /** Runs a job; `onMeasuring` fires when the warm-up is over and the measured window starts. */
  run(job: LoadJob, onMeasuring: () => void = () => {}): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: { measuring?: true; result?: LoadResult; error?: string }) => {
        if (msg.measuring) return onMeasuring();
        this.child.proc.off('message', onMessage);
        if (msg.result) resolve(msg.result);
        else reject(new Error(msg.error ?? 'load generator failed'));
      };
      this.child.proc.on('message', onMessage);
      this.child.proc.send(job);
    });
  }
  stop(): Promise<void> {
    return this.child.stop();
  }
}

// --- seeding through reelay ----------------------------------------------------------------------

async function getVideo(t: Target, id: string): Promise<{ status: number; cache: string | undefined }> {
  const res = await request(`${t.origin}/v1/videos/${id}`, { headers: t.headers });
  await res.body.dump();
  return { status: res.statusCode, cache: res.headers['x-reelay-cache'] as string | undefined };
}

async function seedJobs(reelay: Target, prompt: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await createVideo(reelay, prompt));
  return ids;
}

// --- scenarios -------------------------------------------------------------------------------

interface Ctx {
  loadgen: LoadGen;
  upstream: Child;
  ourPids: () => number[];
  /** RSS of each target process just before its first round (by pid) */
  idleRss: Map<number, number>;
  /** When each target's last memory round ended (by pid) */
  loadEnded: Map<number, number>;
  /** The PostgreSQL server's processes, when the scenario has PostgreSQL targets. */
  pgPids: () => number[];
}

interface ScenarioDef extends ScenarioInfo {
  /** Prepares jobs through reelay; returns what `run` needs. */
  seed(reelay: Target): Promise<string[]>;
  /** Run once per target before the rounds and discard (JIT, connections); not for memory scenarios. */
  warmup: boolean;
  run(t: Target, ids: string[], ctx: Ctx): Promise<Sample>;
}

const get = (t: Target, path: string): HttpRequestSpec => ({ method: 'GET', path, headers: t.headers });

async function throughputSample(t: Target, ctx: Ctx, requests: HttpRequestSpec[], concurrency: number, durationMs: number, value: (r: Extract<LoadResult, { kind: 'throughput' }>) => number): Promise<Sample> {
  let win: ReturnType<typeof cpuWindow> | null = null;
  let pgPids: number[] = [];
  let pg0 = 0;
  let t0 = 0;
  const r = await ctx.loadgen.run(
    { kind: 'throughput', origin: t.origin, origins: t.origins, requests, concurrency, warmupMs: T.warmupMs, durationMs, maxRequests: 5_000_000, expectStatus: 200 },
    () => {
      pgPids = ctx.pgPids();
      pg0 = cpuOf(pgPids);
      t0 = performance.now();
      win = cpuWindow([...new Set([...ctx.ourPids(), ...pgPids])]);
    },
  );
  const cpu = (win as ReturnType<typeof cpuWindow> | null)?.end();
  if (r.kind !== 'throughput') throw new Error('unexpected result');
  const targetCpu = cpu ? (t.pids ?? [t.pid]).reduce((sum, pid) => sum + (cpu.ours.get(pid) ?? 0), 0) : undefined;
  // The database server's CPU while a PostgreSQL target was measured (100 jiffies a second).
  const dbCpu = t.id === 'reelay-pg' || t.id === 'reelay-pg2' ? (cpuOf(pgPids) - pg0) / 100 / ((performance.now() - t0) / 1000) : undefined;
  return {
    value: value(r),
    foreign: cpu?.foreignCores ?? 0,
    targetCpu,
    dbCpu,
    errors: r.errors,
    firstError: r.firstError,
    detail: `${fmt(r.rps)} req/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms${dbCpu === undefined ? '' : `, PostgreSQL ${fmt(dbCpu, 2)} cores`}`,
  };
}

function pollScenario(id: string, title: string, prompt: string, targets: TargetId[]): ScenarioDef {
  return {
    id,
    title,
    measure: 'requests/s',
    unit: 'req/s',
    better: 'higher',
    digits: 0,
    targets,
    async seed(reelay) {
      const ids = await seedJobs(reelay, prompt, SEED_JOBS);
      if (prompt === 'done') {
        for (const v of ids) await getVideo(reelay, v); // reelay settles and stores the final object
        const again = await getVideo(reelay, ids[0]!);
        if (again.cache !== 'final') throw new Error('seeding: a finished job is not served from the database');
      }
      return ids;
    },
    warmup: true,
    run: (t, ids, ctx) => throughputSample(t, ctx, ids.map((v) => get(t, `/v1/videos/${v}`)), CONCURRENCY, T.durationMs, (r) => r.rps),
  };
}

function slowScenario(bytes: number): ScenarioDef {
  return {
    id: `slow-${bytes / MB}mb`,
    title: `200 slow readers, ${bytes / MB} MB video`,
    measure: 'RSS growth (MB)',
    unit: 'MB',
    better: 'lower',
    digits: 1,
    targets: ['direct', 'bare', 'reelay'],
    seed: async (reelay) => [await createVideo(reelay, `content:${bytes}`)],
    warmup: false,
    async run(t, ids, ctx) {
      await sleep(500);
      // Each round is one burst and starts, like the first, from a quiet process whose RSS is
      // steady (RSS_SETTLE; the first round waits in runScenario). Growth is still counted from the
      // process's size before its first round, so memory kept from earlier rounds counts too.
      const lastRound = ctx.loadEnded.get(t.pid);
      const wait = lastRound === undefined ? null : await settleRss([t.pid], { quietSince: lastRound, ...RSS_SETTLE });
      const before = rssBytes(t.pid);
      if (!ctx.idleRss.has(t.pid)) ctx.idleRss.set(t.pid, before);
      const idle = ctx.idleRss.get(t.pid)!;
      const peak = rssPeak(t.pid, 25);
      const win = cpuWindow(ctx.ourPids());
      const r = await ctx.loadgen.run({ kind: 'slow', port: t.port, request: get(t, `/v1/videos/${ids[0]}/content`), clients: 200, bytesPerSecond: SLOW_READER_BYTES_PER_S, durationMs: T.slowMs });
      const cpu = win.end();
      const top = peak.stop();
      if (r.kind !== 'slow') throw new Error('unexpected result');
      ctx.loadEnded.set(t.pid, performance.now());
      await sleep(500); // let the target notice the hang-ups before the next round
      return {
        value: (top - idle) / MB,
        foreign: cpu.foreignCores,
        errors: r.errors,
        firstError: r.firstError,
        detail:
          `RSS before round 1 ${fmt(idle / MB, 1)}, before this round ${fmt(before / MB, 1)}` +
          (wait ? ` (${wait.settled ? 'settled' : 'still moving'} after ${fmt(wait.waitedMs / 1000, 1)} s)` : '') +
          ` → peak ${fmt(top / MB, 1)} MB; clients read ${fmt(r.bytes / MB)} MB`,
      };
    },
  };
}

/**
 * Before every later memory round each process must have been quiet for 10 s since its last round
 * and its RSS steady within 1 MB for 3 s; the wait gives up after 30 s.
 */
const RSS_SETTLE = { minQuietMs: 10_000, windowMs: 3000, toleranceBytes: 1 * MB, maxMs: 30_000 };
/**
 * Before the first round, 20 s of quiet since seeding (which comes about a second after start).
 * V8's memory reducer gives back the 16 MB young generation that start-up grew 8.5–17.1 s after
 * start (30 fresh reelay processes sampled on 2026-11-22, 9 of them at 15 s or later). With 10 s
 * the baseline of some processes was taken before it and of others after, and the difference
 * counted as growth in one scenario and not in the other.
 */
const RSS_SETTLE_FIRST = { ...RSS_SETTLE, minQuietMs: 20_000 };

const DOWNLOAD_BYTES = 100 * MB;
/** Each slow reader takes 256 KiB/s (2 Mbit/s): far slower than the upstream, so backpressure must hold. */
const SLOW_READER_BYTES_PER_S = 256 * 1024;

const SCENARIOS: ScenarioDef[] = [
  pollScenario('poll-running', 'Status polling, jobs in progress (proxied)', 'in_progress', ['direct', 'bare', 'reelay', 'portkey', 'reelay-pg', 'reelay-pg2']),
  pollScenario('poll-finished', 'Status polling, finished jobs (reelay: from its database)', 'done', ['direct', 'bare', 'reelay', 'reelay-pg', 'reelay-pg2']),
  // Several upstreams (issue 17): the same polls through reelay with 3 upstreams in UPSTREAMS_FILE
  // beside the usual one, interleaved in one run; the ratio is the measure.
  pollScenario('poll-running-3up', 'Status polling, jobs in progress, 3 upstreams vs 1', 'in_progress', ['reelay', 'reelay-3up']),
  pollScenario('poll-finished-3up', 'Status polling, finished jobs, 3 upstreams vs 1', 'done', ['reelay', 'reelay-3up']),
  {
    id: 'create',
    title: 'JSON creates (reelay: with holds)',
    measure: 'requests/s',
    unit: 'req/s',
    better: 'higher',
    digits: 0,
    targets: ['direct', 'bare', 'reelay', 'reelay-pg', 'reelay-pg2'],
    seed: async () => [],
    warmup: true,
    run: (t, _ids, ctx) =>
      throughputSample(
        t,
        ctx,
        [{ method: 'POST', path: '/v1/videos', headers: { ...t.headers, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'a benchmark video', model: 'sora-2', seconds: '4', size: '720x1280' }) }],
        CONCURRENCY,
        T.durationMs,
        (r) => r.rps,
      ),
  },
  {
    id: 'latency',
    title: 'Latency at one client (polling a running job)',
    measure: 'p50 (ms)',
    unit: 'ms',
    better: 'lower',
    digits: 3,
    targets: ['direct', 'bare', 'reelay', 'portkey', 'reelay-pg'],
    seed: (reelay) => seedJobs(reelay, 'in_progress', 10),
    warmup: true,
    run: (t, ids, ctx) => throughputSample(t, ctx, ids.map((v) => get(t, `/v1/videos/${v}`)), 1, T.latencyMs, (r) => r.p50),
  },
  {
    id: 'download',
    title: '100 MB content download',
    measure: 'seconds',
    unit: 's',
    better: 'lower',
    digits: 3,
    targets: ['direct', 'bare', 'reelay'],
    seed: async (reelay) => [await createVideo(reelay, `content:${DOWNLOAD_BYTES}`)],
    warmup: true,
    async run(t, ids, ctx) {
      const win = cpuWindow(ctx.ourPids());
      const r = await ctx.loadgen.run({ kind: 'download', origin: t.origin, request: get(t, `/v1/videos/${ids[0]}/content`), count: T.downloads, expectBytes: DOWNLOAD_BYTES });
      const cpu = win.end();
      if (r.kind !== 'download') throw new Error('unexpected result');
      const s = median(r.seconds);
      return { value: s, foreign: cpu.foreignCores, targetCpu: cpu.ours.get(t.pid), errors: r.errors, firstError: r.firstError, detail: `${fmt(DOWNLOAD_BYTES / MB / s)} MB/s` };
    },
  },
  slowScenario(50 * MB),
  slowScenario(200 * MB),
];

// --- idle memory ---------------------------------------------------------------------------------

/** reelay as `npm start` runs it (TypeScript through the tsx loader), for comparison with the build. */
async function startReelayTsx(upstreamPort: number): Promise<{ pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = tempDir('reelay-tsx');
  mkdirSync(join(BENCH_DIR, 'results', 'logs'), { recursive: true });
  const fd = openSync(join(BENCH_DIR, 'results', 'logs', 'reelay-tsx.log'), 'w');
  const proc: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`, LOG_LEVEL: 'info' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const res = await request(`http://127.0.0.1:${port}/healthz`);
      await res.body.dump();
      if (res.statusCode === 200) return { pid: proc.pid!, stop };
    } catch {
      await sleep(200);
    }
  }
  await stop();
  throw new Error('reelay (tsx) did not start');
}

async function idleMemory(rounds: number): Promise<{ text: string; reelayMB: number }> {
  const upstream = await startUpstream();
  const up = upstream.message.port as number;
  const reelays: Target[] = [];
  const bares: Target[] = [];
  for (let i = 0; i < rounds; i++) {
    reelays.push(await startReelayTarget(up, `reelay-idle-${i}`));
    bares.push(await startBare(up));
  }
  const tsx = await startReelayTsx(up).catch((err: Error) => {
    log(`  reelay via tsx: ${err.message}`);
    return null;
  });
  const early = reelays.map((t) => rssBytes(t.pid));
  await sleep(T.idleMs);
  const settledReelay = reelays.map((t) => rssBytes(t.pid));
  const settledBare = bares.map((t) => rssBytes(t.pid));
  const tsxMB = tsx ? rssBytes(tsx.pid) / MB : NaN;
  await Promise.all([...reelays, ...bares].map((t) => t.stop()));
  await tsx?.stop();
  await upstream.stop();
  const reelayMB = median(settledReelay) / MB;
  const text =
    `Idle RSS after ${T.idleMs / 1000} s (median of ${rounds} fresh processes): reelay **${fmt(reelayMB, 1)} MB** ` +
    `(${fmt(median(early) / MB, 1)} MB right after start-up), bare proxy ${fmt(median(settledBare) / MB, 1)} MB; ` +
    `reelay run through the tsx loader as \`npm start\` does: ${fmt(tsxMB, 1)} MB (the loader's worker thread and caches).`;
  return { text, reelayMB };
}

// --- main ----------------------------------------------------------------------------------------

async function waitForQuiet(): Promise<string | null> {
  const deadline = Date.now() + opts.waitQuietS * 1000;
  for (;;) {
    const busy = await machineBusyCores(3000);
    const load = os.loadavg()[0]!;
    if (busy <= 0.2) return null;
    const why = `the machine was busy before the benchmark started: ${fmt(busy, 2)} of ${os.cpus().length} cores in use, load average ${fmt(load, 2)}`;
    if (Date.now() >= deadline) return why;
    log(`waiting for a quiet machine (${fmt(busy, 2)} cores busy) …`);
    await sleep(5000);
  }
}

/** Whether every process could be pinned (taskset); reported with the results. */
let pinned = false;

/** The PostgreSQL server when the run has PostgreSQL targets (started once), or why not. */
type PgState = { pg: BenchPg } | { error: string } | null;

async function runScenario(def: ScenarioDef, loadgen: LoadGen, portkey: { entry: string } | { error: string } | null, pgState: PgState): Promise<ScenarioResult> {
  const result: ScenarioResult = { ...def, targets: opts.compare ? [...def.targets, 'compare'] : def.targets, samples: new Map(), skipped: new Map() };
  const upstream = await startUpstream();
  const up = upstream.message.port as number;
  const targets = new Map<TargetId, Target>();
  try {
    targets.set('direct', directTarget(upstream));
    if (def.targets.includes('bare')) targets.set('bare', await startBare(up));
    const reelay = await startReelayTarget(up);
    targets.set('reelay', reelay);
    if (opts.compare) targets.set('compare', await startReelayTarget(up, 'reelay-compare', opts.compare));
    if (def.targets.includes('reelay-3up')) targets.set('reelay-3up', await startReelaySeveralUpstreamsTarget(up));
    for (const id of ['reelay-pg', 'reelay-pg2'] as const) {
      if (!def.targets.includes(id)) continue;
      if (!pgState) result.skipped.set(id, 'not run (--no-pg)');
      else if ('error' in pgState) result.skipped.set(id, pgState.error);
      else {
        try {
          const url = await pgState.pg.createDatabase(`bench_${def.id.replace(/\W/g, '_')}_${id === 'reelay-pg' ? 1 : 2}`);
          targets.set(id, await startReelayPgTarget(up, url, id === 'reelay-pg' ? 1 : 2));
        } catch (err) {
          result.skipped.set(id, (err as Error).message);
        }
      }
    }
    if (def.targets.includes('portkey')) {
      if (!portkey) result.skipped.set('portkey', 'not run (--no-portkey)');
      else if ('error' in portkey) result.skipped.set('portkey', portkey.error);
      else {
        try {
          targets.set('portkey', await startPortkey(portkey.entry, up));
        } catch (err) {
          result.skipped.set('portkey', (err as Error).message);
        }
      }
    }
    if (opts.pin) {
      // The target under test gets CPU 0 to itself; the load generator and the fake upstream share CPU 1.
      pinned = pinToCpu(loadgen.pid, 1) && pinToCpu(upstream.pid, 1);
      for (const t of targets.values()) if (t.id !== 'direct') for (const pid of t.pids ?? [t.pid]) pinned &&= pinToCpu(pid, 0);
    }
    // Jobs belong to the reelay that created them; the fake upstream itself is stateless, so the
    // other targets use reelay's ids.
    const ids = await def.seed(reelay);
    // Each reelay has its own database, so jobs are seeded through each (two instances share one).
    const ownIds = new Map<TargetId, string[]>();
    for (const id of ['compare', 'reelay-pg', 'reelay-pg2', 'reelay-3up'] as const) if (targets.has(id)) ownIds.set(id, await def.seed(targets.get(id)!));
    const idsFor = (t: TargetId) => ownIds.get(t) ?? ids;
    const pgPids = () => (pgState && 'pg' in pgState && (targets.has('reelay-pg') || targets.has('reelay-pg2')) ? pgState.pg.pids() : []);
    const ctx: Ctx = {
      loadgen,
      upstream,
      idleRss: new Map(),
      loadEnded: new Map(),
      pgPids,
      ourPids: () => [loadgen.pid, upstream.pid, ...[...targets.values()].flatMap((t) => t.pids ?? [t.pid]), ...pgPids()],
    };
    const order = [...def.targets.filter((t) => t !== 'reelay-pg' && t !== 'reelay-pg2'), ...(def.targets.includes('reelay') ? (['compare'] as const) : []), ...def.targets.filter((t) => t === 'reelay-pg' || t === 'reelay-pg2')].filter((t) => targets.has(t));
    // Portkey answers with its own envelope; make sure it really relays before timing it.
    if (targets.has('portkey') && ids[0]) {
      const res = await request(`${targets.get('portkey')!.origin}/v1/videos/${ids[0]}`, { headers: targets.get('portkey')!.headers });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes(ids[0])) {
        result.skipped.set('portkey', `did not relay GET /v1/videos/{id} (status ${res.statusCode})`);
        order.splice(order.indexOf('portkey'), 1);
      }
    }
    if (def.unit === 'MB') {
      // Growth is counted from each process's size before its first round: let that size settle.
      const pids = order.map((id) => targets.get(id)!.pid);
      const { waitedMs, settled } = await settleRss(pids, { quietSince: performance.now(), ...RSS_SETTLE_FIRST });
      log(`  memory ${settled ? 'settled' : 'still moving'} after ${fmt(waitedMs / 1000, 1)} s of waiting`);
    }
    if (def.warmup && T.warmupPass) {
      for (const id of order) await def.run(targets.get(id)!, idsFor(id), ctx);
      log(`  (warm-up pass done)`);
    }
    for (let round = 0; round < opts.rounds; round++) {
      const rotated = order.map((_, i) => order[(i + round) % order.length]!);
      for (const id of rotated) {
        const sample = await measureSample(() => def.run(targets.get(id)!, idsFor(id), ctx), {
          // Memory rounds are not taken again: a neighbour's CPU barely moves RSS growth, and every
          // extra round in the same process starts from the memory the last one left behind.
          retries: def.unit === 'MB' ? 0 : opts.retries,
          pauseMs: 2000,
          onRetry: (s) => log(`  round ${round + 1} ${id.padEnd(8)} disturbed (${fmt(s.foreign, 2)} foreign cores): measuring again`),
        });
        const list = result.samples.get(id) ?? [];
        list.push(sample);
        result.samples.set(id, list);
        const flag = sample.foreign > NOISY_CORES ? `  ⚠ ${fmt(sample.foreign, 2)} foreign cores` : '';
        const errs = sample.errors ? `  ✗ ${sample.errors} errors: ${sample.firstError}` : '';
        log(`  round ${round + 1} ${id.padEnd(8)} ${fmt(sample.value, def.digits).padStart(10)} ${def.unit}${sample.detail ? `  (${sample.detail})` : ''}${flag}${errs}`);
        await sleep(300);
      }
    }
  } finally {
    await Promise.all([...targets.values()].map((t) => t.stop()));
    await upstream.stop();
  }
  return result;
}

function checks(results: Map<string, ScenarioResult>, idleMB: number | null): Check[] {
  // The requests/s ratio is the measure of record; the CPU-per-request ratio is shown beside it.
  const cpuNote = (id: string) => {
    const r = results.get(id)!;
    return `by CPU time per request: ${fmt(cpuPerRequest(r, 'bare') / cpuPerRequest(r, 'reelay'), 2)}×`;
  };
  const out: Check[] = [];
  const ratio = (id: string, a: TargetId, b: TargetId) => med(results.get(id), a) / med(results.get(id), b);
  const has = (id: string, ...ts: TargetId[]) => ts.every((t) => Number.isFinite(med(results.get(id), t)));
  if (has('poll-running', 'reelay', 'bare')) {
    const r = ratio('poll-running', 'reelay', 'bare');
    out.push({ what: 'polling running jobs vs bare proxy', target: '≥ 0.8×', actual: `${fmt(r, 2)}×`, met: r >= 0.8, note: cpuNote('poll-running') });
  }
  if (has('poll-finished', 'reelay', 'bare')) {
    const r = ratio('poll-finished', 'reelay', 'bare');
    out.push({ what: 'polling finished jobs vs bare proxy', target: '≥ 1.5×', actual: `${fmt(r, 2)}×`, met: r >= 1.5, note: cpuNote('poll-finished') });
  }
  if (has('download', 'reelay', 'bare')) {
    const r = ratio('download', 'reelay', 'bare');
    out.push({ what: '100 MB download time vs bare proxy', target: '≤ 1.1×', actual: `${fmt(r, 2)}×`, met: r <= 1.1 });
  }
  const g50 = med(results.get('slow-50mb'), 'reelay');
  const g200 = med(results.get('slow-200mb'), 'reelay');
  // Memory targets are relative to the bare proxy under the same test (design.md).
  for (const id of ['slow-50mb', 'slow-200mb'] as const) {
    if (!has(id, 'reelay', 'bare')) continue;
    const r = ratio(id, 'reelay', 'bare');
    const mb = `${fmt(med(results.get(id), 'reelay'), 1)} vs ${fmt(med(results.get(id), 'bare'), 1)} MB`;
    out.push({ what: `memory growth, 200 slow readers of ${id === 'slow-50mb' ? 50 : 200} MB, vs bare proxy`, target: '≤ 1.25×', actual: `${fmt(r, 2)}× (${mb})`, met: r <= 1.25 });
  }
  if (Number.isFinite(g50) && Number.isFinite(g200)) {
    const d = Math.abs(g200 - g50);
    out.push({ what: 'same growth for 50 MB and 200 MB files', target: 'within 10 MB', actual: `${fmt(g50, 1)} vs ${fmt(g200, 1)} MB`, met: d <= 10 });
  }
  if (has('poll-running', 'reelay', 'portkey')) {
    const r = ratio('poll-running', 'reelay', 'portkey');
    out.push({ what: 'pass-through polling vs Portkey gateway', target: 'well ahead (≥ 2×)', actual: `${fmt(r, 2)}×`, met: r >= 2 });
  } else if (results.has('poll-running')) {
    out.push({ what: 'pass-through polling vs Portkey gateway', target: 'well ahead (≥ 2×)', actual: 'not measured', met: null, note: results.get('poll-running')!.skipped.get('portkey') });
  }
  // PostgreSQL: one instance against SQLite on the same scenario, and two instances against one.
  const pgCpu = (id: string, a: TargetId, b: TargetId) => {
    const r = results.get(id)!;
    return `by CPU time per request, PostgreSQL's included: ${fmt(cpuPerRequest(r, b, true) / cpuPerRequest(r, a, true), 2)}×`;
  };
  for (const [id, what] of [['poll-running', 'polling running jobs'], ['poll-finished', 'polling finished jobs'], ['create', 'creates']] as const) {
    if (!has(id, 'reelay-pg', 'reelay')) continue;
    const r = ratio(id, 'reelay-pg', 'reelay');
    out.push({ what: `${what}: reelay on PostgreSQL vs on SQLite`, target: '≥ 0.7×', actual: `${fmt(r, 2)}×`, met: r >= 0.7, note: pgCpu(id, 'reelay-pg', 'reelay') });
  }
  if (has('create', 'reelay-pg2', 'reelay-pg')) {
    const r = ratio('create', 'reelay-pg2', 'reelay-pg');
    out.push({
      what: 'creates: 2 instances vs 1 on one PostgreSQL',
      target: '≥ 1.6× (with cores to spare)',
      actual: `${fmt(r, 2)}×`,
      met: os.cpus().length >= 4 ? r >= 1.6 : null,
      note: `${pgCpu('create', 'reelay-pg2', 'reelay-pg')}; ${os.cpus().length} cores shared by both instances, PostgreSQL and the load generator${os.cpus().length >= 4 ? '' : ', so not a test of the target'}`,
    });
  }
  for (const [id, what] of [['poll-running-3up', 'polling running jobs'], ['poll-finished-3up', 'polling finished jobs']] as const) {
    if (!has(id, 'reelay-3up', 'reelay')) continue;
    const r = ratio(id, 'reelay-3up', 'reelay');
    out.push({ what: `${what}: ${SEVERAL_UPSTREAMS} upstreams vs 1`, target: '≥ 0.95×', actual: `${fmt(r, 2)}×`, met: r >= 0.95, note: `by CPU time per request: ${fmt(cpuPerRequest(results.get(id)!, 'reelay') / cpuPerRequest(results.get(id)!, 'reelay-3up'), 2)}×` });
  }
  if (idleMB !== null) out.push({ what: 'idle RSS (built, `node dist/main.js`)', target: '≤ 80 MB', actual: `${fmt(idleMB, 1)} MB`, met: idleMB <= 80 });
  if (has('latency', 'reelay', 'direct')) {
    const d = med(results.get('latency'), 'reelay') - med(results.get('latency'), 'direct');
    out.push({ what: 'latency added at one client (p50 over direct)', target: 'report', actual: `+${fmt(d, 3)} ms`, met: null });
  }
  return out;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const t0 = performance.now();
  const selected = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.id));
  const wantIdle = !opts.only || opts.only.includes('idle');
  const wantWebhooks = !opts.only || opts.only.includes('webhooks');
  // The reconciler at scale takes several minutes per configuration: only when asked for by name.
  const wantScale = !!opts.only?.includes(SCALE_ID);
  // The archive's scenarios (bench/archive.ts); `--only archive` selects all three.
  const wantArchive = new Set<string>(ARCHIVE_SCENARIOS.filter((id) => !opts.only || opts.only.includes(id) || opts.only.includes('archive')));
  if (opts.only && selected.length === 0 && !wantIdle && !wantWebhooks && !wantScale && wantArchive.size === 0) {
    throw new Error(`--only: no such scenario (have: idle, webhooks, ${SCENARIOS.map((s) => s.id).join(', ')}, ${ARCHIVE_SCENARIOS.join(', ')} (or archive), ${SCALE_ID})`);
  }

  let busyNote = await waitForQuiet();
  if (busyNote && !opts.force) {
    log(`refusing to run: ${busyNote}. Try again when the machine is idle, or pass --force to run anyway (the report will say so).`);
    process.exit(3);
  }
  if (busyNote) busyNote = `Run with --force: ${busyNote}; the figures are not comparable.`;

  log('building (tsc → bench/.build) …');
  build(log);
  if (opts.compare) {
    log(`building ${opts.compare} for --compare …`);
    build(log, opts.compare);
  }
  let portkey: { entry: string } | { error: string } | null = null;
  if (opts.portkey && selected.some((s) => s.targets.includes('portkey'))) {
    portkey = await ensurePortkey(log);
    if ('error' in portkey) log(`Portkey gateway unavailable: ${portkey.error}`);
  }

  let pgState: PgState = null;
  if (opts.pg && (wantScale || selected.some((s) => s.targets.includes('reelay-pg') || s.targets.includes('reelay-pg2')))) {
    log('starting an embedded PostgreSQL (fsync on, synchronous_commit on) …');
    pgState = await startBenchPg().then(
      (pg) => ({ pg }),
      (err: Error) => ({ error: `embedded PostgreSQL did not start: ${err.message.split('\n')[0]}` }),
    );
    if ('error' in pgState) log(pgState.error);
  }

  const loadgen = await LoadGen.start();
  const results = new Map<string, ScenarioResult>();
  let idle: { text: string; reelayMB: number } | null = null;
  let scale: string | null = null;
  let archive: Awaited<ReturnType<typeof archiveBench>> | null = null;
  try {
    if (wantIdle) {
      log(`idle memory (${T.idleMs / 1000} s) …`);
      idle = await idleMemory(opts.rounds);
      log(`  ${idle.text}`);
    }
    for (const def of selected) {
      log(`${def.title} …`);
      results.set(def.id, await runScenario(def, loadgen, portkey, pgState));
    }
    if (wantArchive.size > 0) {
      archive = await archiveBench({ which: wantArchive, quick: opts.quick, rounds: opts.rounds, log, run: (job) => loadgen.run(job), loadgenPid: loadgen.pid });
    }
    if (wantScale) {
      const so: ScaleOptions = { jobs: opts.scaleJobs, minutes: opts.scaleMinutes, pg: pgState && 'pg' in pgState ? pgState.pg : null, pgError: pgState && 'error' in pgState ? pgState.error : opts.pg ? null : 'not run (--no-pg)', log };
      scale = await reconcilerScale(so);
    }
  } finally {
    await loadgen.stop();
    if (pgState && 'pg' in pgState) await pgState.pg.stop().catch((err: Error) => log(`stopping PostgreSQL: ${err.message}`));
    rmSync(join(BENCH_DIR, 'results', 'tmp'), { recursive: true, force: true });
  }

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  const portkeyNote =
    portkey && 'entry' in portkey
      ? `@portkey-ai/gateway ${PORTKEY_VERSION} from npm (beside @hono/node-server 1.14.1, the last version it works with), \`node build/start-server.js --headless\`, NODE_ENV=production, its generic /v1 proxy route with x-portkey-provider: openai and x-portkey-custom-host.`
      : portkey && 'error' in portkey
        ? portkey.error
        : null;
  const text = markdown(
    {
      command,
      startedAt,
      seconds: (performance.now() - t0) / 1000,
      machine: `${os.cpus().length} × ${cpu}, ${fmt(os.totalmem() / 1024 ** 3)} GiB, Node ${process.version}${pinned ? '; the target under test pinned to CPU 0, load generator and fake upstream to CPU 1' : ''}`,
      rounds: opts.rounds,
      busyNote,
      retries: opts.retries,
      portkeyNote,
      pgNote: pgState && 'pg' in pgState ? `PostgreSQL ${pgState.pg.version}: ${PG_SETTINGS}; reelay's pool DATABASE_POOL_SIZE=10 (the default) per instance.` : pgState ? pgState.error : null,
    },
    [...results.values()],
    idle?.text ?? '',
    [...checks(results, idle?.reelayMB ?? null), ...(archive?.checks ?? [])],
    [scale, archive?.text].filter((x): x is string => !!x).join('\n\n') || null,
  );
  // Webhooks (bench/webhooks.ts): settlement with webhooks on vs off, and delivery of 1,000 events.
  let webhooks = '';
  if (wantWebhooks) {
    log('webhooks (bench/webhooks.ts) …');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'webhooks.ts')], { encoding: 'utf8' });
    webhooks = r.status === 0 ? r.stdout : `\n## Webhooks\n\nfailed: ${r.stderr.slice(-2000)}\n`;
  }
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  writeFileSync(join(BENCH_DIR, 'results', 'latest.md'), `${text}\n${webhooks}`);
  process.stdout.write(`\n${text}\n${webhooks}\n(written to bench/results/latest.md)\n`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
