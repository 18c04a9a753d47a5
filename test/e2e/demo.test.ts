import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run demo` as a user pastes it from the README, in the repository, stopped with Ctrl-C
 * (SIGINT to its whole process group, as a terminal sends it), with its printed commands run
 * through a shell as printed. DEMO_DATA_DIR keeps it out of the repository's ./data.
 *
 * Where the demo's own exit code is checked, the test runs the npm script's command itself
 * (package.json `scripts.demo`, with node_modules/.bin on PATH, as npm runs it): npm reports a
 * Ctrl-C of its script as its own death by SIGINT, whatever the script's exit code. The script is
 * `node --import tsx …`, not the tsx CLI: that one relays signals to its child and SIGKILLs it
 * (exit 130) when the child does not acknowledge one within 30 ms, as happens on a busy machine.
 */
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Proc {
  child: ChildProcess;
  out: string;
  err: string;
  exit: Promise<number | null>;
}

let dataDir: string;
let port: number;
const running: Proc[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as { port: number };
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const SCRIPT = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { demo: string } }).scripts.demo.split(' ');

function startDemo(how: 'npm run demo' | 'the script', extra: string[] = []): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DEMO_DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  for (const name of ['DATABASE_URL', 'ADMIN_TOKEN', 'HOST', 'PRICING_FILE']) delete env[name];
  env.PATH = `${join(ROOT, 'node_modules', '.bin')}:${env.PATH}`;
  const [cmd, ...args] = how === 'npm run demo' ? ['npm', 'run', 'demo', ...(extra.length ? ['--', ...extra] : [])] : [...SCRIPT, ...extra];
  const child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', err: '', exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.err += d));
  running.push(p);
  return p;
}

async function ready(p: Proc): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (!p.out.includes('Press Ctrl-C to stop.')) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`demo did not start:\n${p.out}\n${p.err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ctrl-C in a terminal: SIGINT to the foreground process group (npm and the demo under it). */
async function ctrlC(p: Proc): Promise<number | null> {
  process.kill(-p.child.pid!, 'SIGINT');
  return p.exit;
}

function sh(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The printed block between two marker lines, as one shell command. */
function block(out: string, after: string, before: string): string {
  const start = out.indexOf(after);
  const end = out.indexOf(before, start);
  expect(start, `"${after}" in the demo's output`).toBeGreaterThanOrEqual(0);
  return out.slice(start + after.length, end).trim();
}

const field = (out: string, label: string) => new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(out)?.[1];

async function admin(path: string, token: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return res.json();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'reelay-demo-'));
  port = await freePort();
});

afterAll(() => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) process.kill(-p.child.pid!, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  let first: Proc;
  let secret: string;
  let adminToken: string;

  it('prints the base URL, key, admin token, dashboard URL and commands that work when pasted', async () => {
    first = startDemo('the script');
    await ready(first);
    const base = `http://127.0.0.1:${port}`;
    expect(field(first.out, 'base URL')).toBe(`${base}/v1`);
    expect(field(first.out, 'dashboard')).toBe(`${base}/admin/ui`);
    secret = field(first.out, 'API key')!;
    adminToken = field(first.out, 'admin token')!;
    expect(secret).toMatch(/^sk-reelay-/);
    expect(first.out).toContain('available 25.000000 USD');

    const dashboard = await fetch(`${base}/admin/ui`, { redirect: 'manual' });
    expect(dashboard.status).toBeLessThan(400);

    const curl = await sh(block(first.out, 'Try it with curl:', 'or with the OpenAI SDK'));
    expect(curl.code).toBe(0);
    const video = JSON.parse(curl.stdout);
    expect(video).toMatchObject({ object: 'video', model: 'sora-2', status: 'queued' });

    const sdk = await sh(block(first.out, '(npm i openai):', 'Admin API:'));
    expect(sdk.stderr).toBe('');
    expect(sdk.stdout).toMatch(/^video_\S+ (queued|in_progress)\n$/);

    const cli = await sh(block(first.out, 'CLI:', '\n'));
    expect(cli.code).toBe(0);
    const keys = cli.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // Two 4-second sora-2 jobs: $0.80 held, or captured once they complete; available either way.
    expect(keys).toEqual([expect.objectContaining({ name: 'demo', available_usd: '24.200000' })]);
  });

  it('refuses a second start on a taken port with one line naming PORT, and a non-zero exit', async () => {
    const second = startDemo('npm run demo');
    const code = await second.exit;
    expect(code).not.toBe(0);
    expect(second.out).not.toContain('reelay demo is running');
    // npm may add lines of its own (`npm error …`, depending on its version); reelay prints one.
    const lines = second.err.trim().split('\n').filter((l) => !l.startsWith('npm '));
    expect(lines).toEqual([`reelay demo: port ${port} is already in use (another reelay demo?); pick another port: PORT=${port + 1} npm run demo`]);
  });

  it('stops on Ctrl-C with exit code 0, freeing the port', async () => {
    expect(await ctrlC(first)).toBe(0);
    expect(first.out).toContain('stopping…');
    expect(first.err).toBe('');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('reuses the demo key on restart and tops it back up to its demo credit, in the ledger', async () => {
    const keyId = (await sh(`DATABASE_URL=${join(dataDir, 'demo.db')} npx reelay keys list`)).stdout.match(/"id":"(key_[^"]+)"/)![1];
    const spent = await sh(`DATABASE_URL=${join(dataDir, 'demo.db')} npx reelay keys credit ${keyId} --amount=-5 --note spent`);
    expect(spent.code).toBe(0);

    const again = startDemo('npm run demo');
    await ready(again);
    expect(field(again.out, 'API key')).toBe(secret);
    expect(field(again.out, 'admin token')).toBe(adminToken);
    const toppedUp = /topped up by (\d+\.\d{6}) at this start/.exec(again.out)?.[1];
    expect(Number(toppedUp)).toBeGreaterThanOrEqual(5);

    const key = await admin(`/admin/keys/${keyId}`, adminToken);
    expect(key.balance_usd).toBe('25.000000');
    const ledger = await admin(`/admin/ledger?key_id=${keyId}&limit=1000`, adminToken);
    const topUps = ledger.data.filter((e: any) => e.note === 'demo top-up to 25.000000 USD');
    expect(topUps).toEqual([expect.objectContaining({ kind: 'credit', amount_usd: toppedUp, actor: 'demo' })]);

    const stopped = ctrlC(again);
    await stopped;
    expect(again.out).toContain('stopping…');
    expect(again.child.exitCode === 0 || again.child.signalCode === 'SIGINT').toBe(true);
    expect(again.err).toBe('');
  });
});

describe('npm run demo -- --accounts 2', () => {
  it('runs two simulator accounts, and the printed commands show a create failing over from sim-1 to sim-2', async () => {
    const demo = startDemo('the script', ['--accounts', '2']);
    await ready(demo);
    const accounts = [...demo.out.matchAll(/^ {2}(sim-\d) {2}(http:\/\/\S+\/v1) {2}priority (\d)/gm)].map((m) => [m[1], m[3]]);
    expect(accounts).toEqual([['sim-1', '0'], ['sim-2', '1']]);
    const adminToken = field(demo.out, 'admin token')!;

    const failNext = /^ {2}(curl -s -X POST \S+\/_sim\/fail-next-create .*)$/m.exec(demo.out)?.[1];
    expect(failNext).toBeDefined();
    expect((await sh(failNext!)).code).toBe(0);
    const curl = await sh(block(demo.out, 'Try it with curl:', 'or with the OpenAI SDK'));
    expect(curl.code).toBe(0);
    const video = JSON.parse(curl.stdout);
    expect(video).toMatchObject({ object: 'video', status: 'queued' });

    const job = await admin(`/admin/jobs/${video.id}`, adminToken);
    expect(job.upstream_id).toBe('sim-2');
    const ups = (await admin('/admin/upstreams', adminToken)).data as { id: string; state: string; last_error: string | null; jobs_24h: number }[];
    // The same data directory as the single-account runs above: their jobs' upstream is now removed.
    expect(ups.map((u) => [u.id, u.state])).toEqual([['sim-1', 'ok'], ['sim-2', 'ok'], ['default', 'removed']]);
    expect(ups[0]!.last_error).toContain('503');
    expect(ups[1]!.jobs_24h).toBeGreaterThanOrEqual(1);
    // The credentials are printed nowhere (only the names of their variables).
    expect(demo.out).toContain('SIM_ACCT_1_KEY');
    expect(demo.out).not.toMatch(/sim-acct\d-[0-9a-f]{24}/);

    expect(await ctrlC(demo)).toBe(0);
    expect(demo.err).toBe('');
  });
});
