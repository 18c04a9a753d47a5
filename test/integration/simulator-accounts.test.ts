import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulatorAccounts, type SimulatorAccounts } from '../../src/simulator/accounts.js';
import { parseSimulatorArgs } from '../../src/simulator/cli.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { parseUsd } from '../../src/money.js';
import { silentLogger } from '../../src/logging/logger.js';

/**
 * The simulator as several independent upstreams (contract §10, issue 17 item 7): each account its
 * own simulator with its own credential (and refusing the other's), and reelay over an
 * UPSTREAMS_FILE naming them fails over from one made to answer 503 to the other, with exactly one
 * upstream job, and keeps the job's follow-ups at the account that took it.
 */
const ADMIN_TOKEN = 'simulator-accounts-admin-token-01';
let sims: SimulatorAccounts;
let reelay: RunningReelay;
let dir: string;
let secret: string;

const videos = (url: string, key: string | null, init: RequestInit = {}) =>
  fetch(`${url}/videos`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
const createsOf = (i: number) => sims.accounts[i]!.handle.sim.requests.filter((r) => r.method === 'POST' && r.path === '/v1/videos');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-sim-accounts-'));
  sims = await startSimulatorAccounts(2, { jobDurationMs: 300, apiKey: 'sk-sim-test' });
  const file = join(dir, 'upstreams.json');
  writeFileSync(file, JSON.stringify(sims.upstreamsFile()));
  reelay = await startReelay(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', UPSTREAMS_FILE: file, ADMIN_TOKEN, ...sims.env() }),
    { reconciler: false, logger: silentLogger() },
  );
  const k = await createKey(reelay.deps.store, { name: 'sim-accounts' }, Date.now());
  secret = k.secret;
  await reelay.deps.store.appendCredit(k.key.id, parseUsd('50.00'), 'seed', { actor: 'test', requestId: null, now: Date.now() });
});

afterAll(async () => {
  await reelay?.close(1000);
  await sims?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the simulator as several accounts', () => {
  it('runs each account on its own port with its own credential; each refuses the other’s', async () => {
    const [one, two] = sims.accounts;
    expect(one!.handle.port).not.toBe(two!.handle.port);
    expect([one!.apiKey, two!.apiKey]).toEqual(['sk-sim-test-1', 'sk-sim-test-2']);
    expect(sims.upstreamsFile().upstreams.map((u) => [u.id, u.api_key_env, u.priority])).toEqual([['sim-1', 'SIM_ACCT_1_KEY', 0], ['sim-2', 'SIM_ACCT_2_KEY', 1]]);
    expect(JSON.stringify(sims.upstreamsFile())).not.toContain('sk-sim-test');

    expect((await videos(one!.handle.url, two!.apiKey)).status).toBe(401);
    expect((await videos(two!.handle.url, one!.apiKey)).status).toBe(401);
    expect((await videos(one!.handle.url, null)).status).toBe(401);
    const made = await videos(one!.handle.url, one!.apiKey, { method: 'POST', body: JSON.stringify({ prompt: 'direct' }) });
    expect(made.status).toBe(200);
    const { id } = (await made.json()) as { id: string };
    // Independent state: the other account does not know the job.
    expect((await fetch(`${two!.handle.url}/videos/${id}`, { headers: { authorization: `Bearer ${two!.apiKey}` } })).status).toBe(404);
    expect((await fetch(`${one!.handle.url}/videos/${id}`, { headers: { authorization: `Bearer ${one!.apiKey}` } })).status).toBe(200);
  });

  it('reelay over an UPSTREAMS_FILE of them fails over from the account answering 503, one upstream job, follow-ups sticky', async () => {
    const [one, two] = sims.accounts;
    const control = await fetch(`${one!.handle.url.replace(/\/v1$/, '')}/_sim/fail-next-create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'unavailable', count: 1 }),
    });
    expect(control.status).toBe(200);
    const jobsBefore = { one: one!.handle.sim.jobs.size, two: two!.handle.sim.jobs.size };
    const createsBefore = { one: createsOf(0).length, two: createsOf(1).length };

    const res = await videos(`${reelay.url}/v1`, secret, { method: 'POST', body: JSON.stringify({ model: 'sora-2', prompt: 'a kite', seconds: '4' }) });
    expect(res.status).toBe(200);
    const video = (await res.json()) as { id: string };
    // sim-1 got the create and answered 503 (no job); sim-2 took it: exactly one upstream job.
    expect(createsOf(0).length).toBe(createsBefore.one + 1);
    expect(createsOf(1).length).toBe(createsBefore.two + 1);
    expect(one!.handle.sim.jobs.size).toBe(jobsBefore.one);
    expect(two!.handle.sim.jobs.size).toBe(jobsBefore.two + 1);
    expect(createsOf(0).at(-1)!.headers.authorization).toBe(`Bearer ${one!.apiKey}`);
    expect(createsOf(1).at(-1)!.headers.authorization).toBe(`Bearer ${two!.apiKey}`);

    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const job = (await (await fetch(`${reelay.url}/admin/jobs/${video.id}`, { headers: admin })).json()) as { upstream_id: string };
    expect(job.upstream_id).toBe('sim-2');
    const ups = ((await (await fetch(`${reelay.url}/admin/upstreams`, { headers: admin })).json()) as { data: { id: string; jobs_24h: number; last_error: string | null }[] }).data;
    expect(ups.find((u) => u.id === 'sim-1')!.last_error).toContain('503');
    expect(ups.find((u) => u.id === 'sim-2')!.jobs_24h).toBe(1);

    // A retrieve goes to sim-2, with sim-2's credential, never to sim-1.
    const oneGets = () => one!.handle.sim.requests.filter((r) => r.method === 'GET').length;
    const before = oneGets();
    const got = await fetch(`${reelay.url}/v1/videos/${video.id}`, { headers: { authorization: `Bearer ${secret}` } });
    expect(got.status).toBe(200);
    expect(oneGets()).toBe(before);
    const last = two!.handle.sim.requests.at(-1)!;
    expect([last.method, last.headers.authorization]).toEqual(['GET', `Bearer ${two!.apiKey}`]);
  });
});

describe('reelay simulator --accounts', () => {
  it('parses --accounts and --upstreams-file, and refuses bad values', () => {
    expect(parseSimulatorArgs(['--accounts', '2', '--upstreams-file', '/tmp/u.json'])).toMatchObject({ accounts: 2, upstreamsFile: '/tmp/u.json' });
    expect(() => parseSimulatorArgs(['--accounts', '0'])).toThrow(/--accounts must be from 1 to 16/);
    expect(() => parseSimulatorArgs(['--accounts', '17'])).toThrow(/--accounts must be from 1 to 16/);
    expect(() => parseSimulatorArgs(['--upstreams-file', 'x.json'])).toThrow(/--upstreams-file needs --accounts/);
  });

  it('starts the accounts, prints each and writes the UPSTREAMS_FILE without credentials', async () => {
    const CLI = fileURLToPath(new URL('../../src/simulator/cli.ts', import.meta.url));
    const file = join(dir, 'cli-upstreams.json');
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CLI, '--port', '0', '--accounts', '2', '--api-key', 'sk-cli', '--upstreams-file', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const end = Date.now() + 20_000;
      while (!out.includes('npm start') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('npm start');
      const urls = [...out.matchAll(/account (sim-\d) listening on (http:\/\/\S+\/v1)/g)].map((m) => [m[1], m[2]]);
      expect(urls.map((u) => u[0])).toEqual(['sim-1', 'sim-2']);
      const written = JSON.parse(readFileSync(file, 'utf8')) as { upstreams: { id: string; base_url: string }[] };
      expect(written.upstreams.map((u) => [u.id, u.base_url])).toEqual(urls);
      expect(readFileSync(file, 'utf8')).not.toContain('sk-cli');
      expect((await videos(urls[0]![1]!, 'sk-cli-1')).status).toBe(200);
      expect((await videos(urls[1]![1]!, 'sk-cli-1')).status).toBe(401);
      expect((await videos(urls[1]![1]!, 'sk-cli-2')).status).toBe(200);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }, 30_000);
});
