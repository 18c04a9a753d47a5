/**
 * `npm run bench:profile -- [poll-running|poll-finished|create] [seconds] [--no-prof]`: drives
 * one scenario against the bare proxy and then reelay (built as the benchmark builds them) and
 * prints the CPU time each spent per request, its own and the fake upstream's. On a shared,
 * noisy machine CPU per request moves far less than requests/s, so this is the quick way to see
 * whether a change made the hot path cheaper (`npm run bench` remains the measure of record).
 * Unless --no-prof, reelay runs under the V8 CPU profiler (which adds its own cost) and the
 * functions that took the most self time are printed, grouped by source; the raw `.cpuprofile`
 * stays in bench/results/profile/ for Chrome DevTools. Loopback only; bounded by the duration and
 * a request cap.
 */
import { readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { BENCH_DIR, build, built, startBare, startChild, startUpstream, tempDir, UPSTREAM_KEY, type Child } from './targets.js';
import { processCpu } from './machine.js';
import { NODE_FLAGS } from '../src/runtime-flags.js';
import type { LoadJob, LoadResult } from './loadgen.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const profiling = !process.argv.includes('--no-prof');
const scenario = args[0] ?? 'poll-running';
const seconds = Number(args[1] ?? 10);
if (!['poll-running', 'poll-finished', 'create'].includes(scenario) || !(seconds > 0 && seconds <= 120)) {
  process.stderr.write('usage: npm run bench:profile -- [poll-running|poll-finished|create] [seconds ≤ 120] [--no-prof]\n');
  process.exit(2);
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function group(url: string): string {
  if (url === '') return '(native / gc / idle)';
  if (url.includes('/node_modules/')) return url.split('/node_modules/').pop()!.split('/').slice(0, url.includes('@') ? 2 : 1).join('/');
  if (url.startsWith('node:')) return 'node core';
  if (url.includes('/bench/.build/src/')) return 'reelay';
  return url;
}

/** Runs one throughput job and returns requests/s and CPU ms per 1000 requests of the given processes. */
async function drive(loadgen: Child, job: LoadJob, pids: number[]): Promise<{ rps: number; errors: number; cpuPer1k: number[] }> {
  const before = pids.map(processCpu);
  const result = await new Promise<LoadResult>((resolve, reject) => {
    const onMessage = (m: { result?: LoadResult; error?: string }) => {
      if (!m.result && !m.error) return;
      loadgen.proc.off('message', onMessage);
      if (m.result) resolve(m.result);
      else reject(new Error(m.error));
    };
    loadgen.proc.on('message', onMessage);
    loadgen.proc.send(job);
  });
  if (result.kind !== 'throughput') throw new Error('unexpected result');
  // jiffies are 10 ms; per 1000 requests
  const cpuPer1k = pids.map((p, i) => ((processCpu(p) - before[i]!) * 10 * 1000) / Math.max(1, result.count));
  return { rps: result.rps, errors: result.errors, cpuPer1k };
}

function jobFor(origin: string, headers: Record<string, string>, ids: string[]): LoadJob {
  return {
    kind: 'throughput',
    origin,
    requests:
      scenario === 'create'
        ? [{ method: 'POST', path: '/v1/videos', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'p', model: 'sora-2', seconds: '4', size: '720x1280' }) }]
        : ids.map((id) => ({ method: 'GET' as const, path: `/v1/videos/${id}`, headers })),
    concurrency: 64,
    warmupMs: 0,
    durationMs: seconds * 1000,
    maxRequests: 5_000_000,
    expectStatus: 200,
  };
}

async function main(): Promise<void> {
  build((s) => process.stderr.write(s + '\n'));
  const profDir = join(BENCH_DIR, 'results', 'profile');
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const upstream = await startUpstream();
  const upstreamPort = upstream.message.port as number;
  const loadgen = await startChild('loadgen', built('bench/loadgen.js'));
  const report = (name: string, r: { rps: number; errors: number; cpuPer1k: number[] }) =>
    process.stdout.write(
      `${name.padEnd(10)} ${String(Math.round(r.rps)).padStart(6)} req/s, ${r.errors} errors; CPU per 1000 requests: ${r.cpuPer1k[0]!.toFixed(0)} ms its own + ${r.cpuPer1k[1]!.toFixed(0)} ms the upstream's\n`,
    );

  // The bare proxy first, on the upstream's fixed ids (the fake upstream answers by id prefix).
  const bare = await startBare(upstreamPort);
  const bareIds = Array.from({ length: 100 }, (_, i) => (scenario === 'poll-finished' ? `video_done_${i}` : `video_ip_${i}`));
  report('bare proxy', await drive(loadgen, jobFor(bare.origin, { authorization: `Bearer ${UPSTREAM_KEY}` }, bareIds), [bare.pid, upstream.pid]));
  await bare.stop();

  const dir = tempDir('profile');
  const reelay = await startChild(
    'reelay-profile',
    built('bench/reelay-target.js'),
    { DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1` },
    [...NODE_FLAGS, ...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
  );
  const origin = `http://127.0.0.1:${reelay.message.port as number}`;
  const headers = { authorization: `Bearer ${reelay.message.key as string}` };
  const create = async (prompt: string) => {
    const res = await request(`${origin}/v1/videos`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, model: 'sora-2', seconds: '4', size: '720x1280' }),
    });
    return ((await res.body.json()) as { id: string }).id;
  };
  const ids: string[] = [];
  if (scenario !== 'create') {
    for (let i = 0; i < 100; i++) ids.push(await create(scenario === 'poll-finished' ? 'done' : 'in_progress'));
    if (scenario === 'poll-finished') for (const id of ids) await (await request(`${origin}/v1/videos/${id}`, { headers })).body.dump();
  }
  report('reelay', await drive(loadgen, jobFor(origin, headers, ids), [reelay.pid, upstream.pid]));
  await loadgen.stop();
  await reelay.stop(); // writes the profile on exit
  await upstream.stop();
  if (!profiling) return;

  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile;
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byNode.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const byGroup = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const [id, t] of self) {
    const f = byNode.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    byGroup.set(group(f.url), (byGroup.get(group(f.url)) ?? 0) + t);
    const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    byFn.set(name, (byFn.get(name) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)} %`;
  process.stdout.write(`busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s profiled\n\nself time by source:\n`);
  for (const [g, t] of [...byGroup].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${pct(t)}  ${g}\n`);
  process.stdout.write('\ntop functions by self time:\n');
  for (const [f, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 30)) process.stdout.write(`  ${pct(t)}  ${f}\n`);
  process.stdout.write(`\nprofile: ${join(profDir, file)}\n`);
}

await main();
process.exit(0);
