/**
 * Starting and stopping the processes under test. Each target is a separate child process, so its
 * CPU and memory are measured on their own. reelay, the bare proxy, the fake upstream and the load
 * generator run from a plain `tsc` build of the sources (bench/.build, as `npm run build` makes
 * dist/): no TypeScript loader thread in the measured processes.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, rmSync, symlinkSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { NODE_FLAGS } from '../src/runtime-flags.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..');
const PORTKEY_DIR = join(BENCH_DIR, '.portkey');
/** Pinned so that results stay comparable from run to run. */
export const PORTKEY_VERSION = '1.15.2';
/**
 * The gateway's build appends to fetch() response headers, which @hono/node-server from 1.14.2 on
 * makes immutable ("TypeError: immutable" on every request: Portkey-AI/gateway issue #1389), so
 * the last compatible version (1.14.1, checked) is installed beside it (with the @hono/node-ws that accepts it).
 */
const PORTKEY_PINS = ['@hono/node-server@1.14.1', '@hono/node-ws@1.2.0'];

export type TargetId = 'direct' | 'bare' | 'reelay' | 'compare' | 'portkey' | 'reelay-pg' | 'reelay-pg2' | 'reelay-3up';

export const TARGET_LABELS: Record<TargetId, string> = {
  direct: 'direct (upstream)',
  bare: 'bare proxy',
  reelay: 'reelay',
  compare: 'reelay (--compare)',
  portkey: 'Portkey gateway',
  'reelay-pg': 'reelay (PostgreSQL)',
  'reelay-pg2': '2 × reelay (PostgreSQL)',
  'reelay-3up': 'reelay (3 upstreams)',
};

export interface Target {
  id: TargetId;
  origin: string;
  port: number;
  /** The process whose CPU and memory count for this target (the upstream itself for `direct`). */
  pid: number;
  /** Headers every request to this target carries (credentials, routing). */
  headers: Record<string, string>;
  /**
   * A target of several processes (two reelay instances on one database): every process whose CPU
   * counts for it, and every origin the load is spread over (round robin by connection).
   */
  pids?: number[];
  origins?: string[];
  stop(): Promise<void>;
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  message: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * Compiles src/ and bench/ of a checkout (this one by default) into its bench/.build with tsc
 * (emitting even when files being worked on have type errors).
 */
export function build(log: (s: string) => void, root = ROOT): void {
  const out = join(root, 'bench', '.build');
  rmSync(out, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'bench', 'tsconfig.build.json')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    const first = (r.stdout || r.stderr).split('\n').slice(0, 5).join('\n  ');
    log(`note: tsc reported type errors (the build is used anyway):\n  ${first}`);
  }
  for (const f of ['src/server.js', 'bench/reelay-target.js', 'bench/bare-proxy.js', 'bench/upstream.js', 'bench/loadgen.js']) {
    if (!existsSync(join(out, f))) throw new Error(`build of ${root} failed: ${f} was not emitted`);
  }
  // src/db/client.js finds the migrations two levels up, as it does from dist/db.
  symlinkSync(join('..', '..', 'migrations'), join(out, 'migrations'));
  // src/server.js reads its version from the package.json one level up, as it does from dist/.
  symlinkSync(join('..', '..', 'package.json'), join(out, 'package.json'));
}

export function built(file: string, root = ROOT): string {
  return join(root, 'bench', '.build', file);
}

/** The Node.js flags a checkout runs reelay with (src/runtime-flags.ts, from its build). */
async function nodeFlagsOf(root: string): Promise<string[]> {
  if (root === ROOT) return [...NODE_FLAGS];
  const mod = (await import(pathToFileURL(built('src/runtime-flags.js', root)).href)) as { NODE_FLAGS: readonly string[] };
  return [...mod.NODE_FLAGS];
}

export function tempDir(name: string): string {
  const dir = join(BENCH_DIR, 'results', 'tmp', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function logFd(name: string): number {
  mkdirSync(join(BENCH_DIR, 'results', 'logs'), { recursive: true });
  return openSync(join(BENCH_DIR, 'results', 'logs', `${name}.log`), 'w');
}

/** Forks a built bench module and waits for its `{ ready: true, … }` message. */
export function startChild(name: string, file: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<Child> {
  const fd = logFd(name);
  const proc = fork(file, [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', fd, fd, 'ipc'] });
  closeSync(fd);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within 30 s (see bench/results/logs/${name}.log)`));
    }, 30_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} (see bench/results/logs/${name}.log)`));
    });
    proc.on('message', (msg: Record<string, unknown>) => {
      if (msg.ready) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve({ proc, pid: proc.pid!, message: msg, stop });
      }
    });
  });
}

export async function startUpstream(): Promise<Child> {
  return startChild('upstream', built('bench/upstream.js'));
}

export const UPSTREAM_KEY = 'sk-upstream-bench';

export function directTarget(upstream: Child): Target {
  const port = upstream.message.port as number;
  return { id: 'direct', origin: `http://127.0.0.1:${port}`, port, pid: upstream.pid, headers: { authorization: `Bearer ${UPSTREAM_KEY}` }, stop: async () => {} };
}

export async function startBare(upstreamPort: number): Promise<Target> {
  const c = await startChild('bare-proxy', built('bench/bare-proxy.js'), { UPSTREAM: `http://127.0.0.1:${upstreamPort}` });
  const port = c.message.port as number;
  return { id: 'bare', origin: `http://127.0.0.1:${port}`, port, pid: c.pid, headers: { authorization: `Bearer ${UPSTREAM_KEY}` }, stop: c.stop };
}

/**
 * reelay from this checkout, or (`root`) from another one built by `build(log, root)`, each with
 * the Node.js flags of its own checkout, so that `--compare` also compares a change of flags.
 */
export async function startReelayTarget(upstreamPort: number, name = 'reelay', root = ROOT, env: Record<string, string> = {}): Promise<Target> {
  const dir = tempDir(name);
  const c = await startChild(name, built('bench/reelay-target.js', root), {
    DATABASE_URL: env.DATABASE_URL ?? join(dir, 'reelay.db'),
    // Off: these scenarios compare reelay relaying the upstream with the bare proxy doing the same;
    // with the archive on, a finished video would be served from reelay's disk instead after its
    // copy. The archive's own scenarios (bench/archive.ts) pass their ARCHIVE_URL in `env`.
    ARCHIVE_URL: 'off',
    UPSTREAM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
    // The bench's one key stands for many clients (200 slow readers of one video): the per-key
    // download cap (8 by default) would refuse most of them and make reelay look cheaper.
    MAX_DOWNLOADS_PER_KEY: '1000',
    ...env,
  }, await nodeFlagsOf(root));
  const port = c.message.port as number;
  const id: TargetId = root === ROOT ? 'reelay' : 'compare';
  return { id, origin: `http://127.0.0.1:${port}`, port, pid: c.pid, headers: { authorization: `Bearer ${c.message.key as string}` }, stop: c.stop };
}

/**
 * reelay on PostgreSQL (`databaseUrl`): one instance, or (`instances` 2) two on the same database,
 * started one after the other (the first migrates), as one target whose load is spread over both
 * ports. The key is the first instance's; it is valid on both, since they share the database.
 */
export async function startReelayPgTarget(upstreamPort: number, databaseUrl: string, instances: 1 | 2, env: Record<string, string> = {}): Promise<Target> {
  const id: TargetId = instances === 1 ? 'reelay-pg' : 'reelay-pg2';
  const started: Target[] = [];
  try {
    for (let i = 0; i < instances; i++) started.push(await startReelayTarget(upstreamPort, `${id}-${i + 1}`, ROOT, { DATABASE_URL: databaseUrl, ...env }));
  } catch (err) {
    await Promise.all(started.map((t) => t.stop()));
    throw err;
  }
  const first = started[0]!;
  return {
    ...first,
    id,
    pids: started.map((t) => t.pid),
    origins: started.map((t) => t.origin),
    stop: async () => {
      await Promise.all(started.map((t) => t.stop()));
    },
  };
}

/** How many upstreams the `reelay-3up` target's UPSTREAMS_FILE lists. */
export const SEVERAL_UPSTREAMS = 3;

/**
 * reelay (SQLite) with an UPSTREAMS_FILE of three upstreams, all the bench's fake upstream (which
 * checks no credential) under different ids and credentials, with equal priority, so creates are
 * spread over them and every poll is routed to its job's upstream: the cost of several upstreams.
 */
export async function startReelaySeveralUpstreamsTarget(upstreamPort: number): Promise<Target> {
  const dir = tempDir('reelay-3up-file');
  const file = join(dir, 'upstreams.json');
  const env: Record<string, string> = { UPSTREAMS_FILE: file };
  const upstreams = [];
  for (let i = 1; i <= SEVERAL_UPSTREAMS; i++) {
    env[`BENCH_UPSTREAM_KEY_${i}`] = `sk-bench-upstream-${i}`;
    upstreams.push({ id: `bench-${i}`, base_url: `http://127.0.0.1:${upstreamPort}/v1`, api_key_env: `BENCH_UPSTREAM_KEY_${i}` });
  }
  writeFileSync(file, JSON.stringify({ upstreams }));
  const t = await startReelayTarget(upstreamPort, 'reelay-3up', ROOT, env);
  return { ...t, id: 'reelay-3up' };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string, ms: number, proc: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && proc.exitCode === null) {
    try {
      const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await res.body.dump();
      if (res.statusCode < 500) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * The Portkey gateway, installed from npm into bench/.portkey on first use (not a dependency of
 * reelay). Resolves to `{ error }` with the reason when it cannot be installed.
 */
export async function ensurePortkey(log: (s: string) => void): Promise<{ entry: string } | { error: string }> {
  const entry = join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const version = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(join(PORTKEY_DIR, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return null;
    }
  };
  const wanted = [`@portkey-ai/gateway@${PORTKEY_VERSION}`, ...PORTKEY_PINS];
  const nested = existsSync(join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'node_modules', '@hono', 'node-server'));
  if (!nested && wanted.every((w) => version(w.slice(0, w.lastIndexOf('@'))) === w.slice(w.lastIndexOf('@') + 1)) && existsSync(entry)) return { entry };
  log(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into bench/.portkey (npm) …`);
  rmSync(PORTKEY_DIR, { recursive: true, force: true });
  mkdirSync(PORTKEY_DIR, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(
    npm,
    ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', PORTKEY_DIR, ...wanted],
    { cwd: PORTKEY_DIR, encoding: 'utf8', timeout: 180_000 },
  );
  if (r.status !== 0 || !existsSync(entry)) {
    const why = (r.error?.message ?? r.stderr ?? '').split('\n').filter(Boolean).slice(-2).join(' ');
    return { error: `npm install @portkey-ai/gateway@${PORTKEY_VERSION} failed: ${why || `exit ${r.status}`}` };
  }
  return { entry };
}

export async function startPortkey(entry: string, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const fd = logFd('portkey');
  const proc = spawn(process.execPath, [entry, `--port=${port}`, '--headless'], {
    cwd: PORTKEY_DIR,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  if (!(await waitHttp(`http://127.0.0.1:${port}/`, 30_000, proc))) {
    await stop();
    throw new Error('the Portkey gateway did not answer within 30 s (see bench/results/logs/portkey.log)');
  }
  return {
    id: 'portkey',
    origin: `http://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    headers: {
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `http://127.0.0.1:${upstreamPort}/v1`,
    },
    stop,
  };
}

/** Creates a 4 s video through a target (reelay or the upstream); returns its id. */
export async function createVideo(t: Target, prompt: string): Promise<string> {
  const res = await request(`${t.origin}/v1/videos`, {
    method: 'POST',
    headers: { ...t.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, model: 'sora-2', seconds: '4', size: '720x1280' }),
  });
  const body = (await res.body.json()) as { id?: string };
  if (res.statusCode !== 200 || !body.id) throw new Error(`bench: create answered ${res.statusCode}`);
  return body.id;
}
