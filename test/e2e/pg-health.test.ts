import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { openStore, PG_CONNECT_TIMEOUT_MS, PG_QUERY_TIMEOUT_MS } from '../../src/db/open.js';
import { silentLogger } from '../../src/logging/logger.js';
import { generateKeySecret } from '../../src/keys/secret.js';
import { startEmbeddedPg, type EmbeddedPgServer } from '../helpers/pg-server.js';
import { adminQuery, databaseUrl } from '../helpers/pg-admin.js';
import { emptyPgDatabase, freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * reelay on a PostgreSQL server that goes away and comes back: /healthz answers 503
 * database_unavailable while it is gone (or too slow) and 200 again once it is back, without a
 * restart; a request whose first store call cannot reach it is 503 database_unavailable with
 * retry-after, and nothing reaches the upstream. This file starts its own server (own port and
 * directory) so that stopping it leaves the run's shared server alone.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const ADMIN_TOKEN = 'pg-health-admin-token-0123456789';

/**
 * A TCP proxy in front of a real PostgreSQL server that can turn into a black hole: connections
 * stay open but nothing passes either way any more, like a network that silently drops packets.
 */
async function startSwitchableProxy(target: { host: string; port: number }) {
  let hole = false;
  const pairs: [Socket, Socket][] = [];
  const server = createServer((client) => {
    if (hole) return void pairs.push([client, client]);
    const upstream = connect(target.port, target.host);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    /** From now on nothing passes, on old connections and new ones alike. */
    blackHole() {
      hole = true;
      for (const [a, b] of pairs) {
        a.unpipe();
        b.unpipe();
        a.pause();
        b.pause();
      }
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function get(reelay: RunningReelay, path: string, headers: Record<string, string> = {}) {
  const started = Date.now();
  const res = await fetch(`${reelay.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.text(), ms: Date.now() - started };
}

async function createVideo(reelay: RunningReelay) {
  const res = await fetch(`${reelay.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${generateKeySecret()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sora-2', prompt: 'a kite', seconds: '4' }),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function expectDatabaseUnavailable(r: { status: number; headers: Headers; body: string }) {
  expect(r.status, r.body).toBe(503);
  expect(r.headers.get('content-type')).toMatch(/application\/json/);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(JSON.parse(r.body)).toEqual({
    error: { message: expect.stringMatching(/database cannot be reached/), type: 'server_error', param: null, code: 'database_unavailable' },
  });
}

describe('a PostgreSQL server that stops and starts again', () => {
  let server: EmbeddedPgServer;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let reelay: RunningReelay;

  beforeAll(async () => {
    server = await startEmbeddedPg();
    await adminQuery(server.url, 'CREATE DATABASE reelay');
    upstream = await startRecordingUpstream();
    const config = loadConfig({ DATABASE_URL: databaseUrl(server.url, 'reelay'), PORT: '0', UPSTREAM_BASE_URL: upstream.url, ADMIN_TOKEN, LOG_LEVEL: 'silent' });
    const opened = await openStore(config);
    reelay = await startReelay(config, { storage: opened, reconciler: false, logger: silentLogger() });
  });

  afterAll(async () => {
    await reelay?.close(1000);
    await upstream?.close();
    await server?.stop();
  });

  it('answers 200 while the database is up, and an unknown key is a plain 401', async () => {
    expect((await get(reelay, '/healthz')).status).toBe(200);
    expect((await createVideo(reelay)).status).toBe(401);
  });

  it('answers 503 database_unavailable while it is down — /healthz and requests alike — and forwards nothing', async () => {
    await server.halt();
    const health = await get(reelay, '/healthz');
    expectDatabaseUnavailable(health);
    expect(health.ms).toBeLessThan(PG_CONNECT_TIMEOUT_MS);

    const create = await createVideo(reelay);
    expectDatabaseUnavailable(create);
    expect(upstream.requests).toEqual([]);
  });

  it('answers 200 again once it is back, without a restart', async () => {
    await server.resume();
    const health = await eventually(() => get(reelay, '/healthz'), (r) => r.status === 200, 20_000);
    expect(health.status, health.body).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    expect((await createVideo(reelay)).status).toBe(401);
  });

  it('after the server ends every reelay session (57P01 admin_shutdown), /healthz recovers on its own', async () => {
    // Ends every reelay session on the server, as a restart of PostgreSQL would.
    await adminQuery(server.url, "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'reelay' and pid <> pg_backend_pid()");
    // The pool drops the dead connections and opens new ones on demand.
    const health = await eventually(() => get(reelay, '/healthz'), (r) => r.status === 200, 10_000);
    expect(health.status).toBe(200);
  });
});

describe('a PostgreSQL server that accepts connections and never answers', () => {
  let d: TestPgDatabase;
  let proxy: Awaited<ReturnType<typeof startSwitchableProxy>>;
  let reelay: RunningReelay;

  beforeAll(async () => {
    d = await freshPgDatabase();
    const real = new URL(d.url);
    proxy = await startSwitchableProxy({ host: real.hostname, port: Number(real.port) });
    const via = new URL(d.url);
    via.hostname = '127.0.0.1';
    via.port = String(proxy.port);
    const config = loadConfig({ DATABASE_URL: via.toString(), PORT: '0', UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', LOG_LEVEL: 'silent' });
    reelay = await startReelay(config, { reconciler: false, logger: silentLogger() });
    expect((await get(reelay, '/healthz')).status).toBe(200);
    // Now the network to the database drops everything.
    proxy.blackHole();
  });

  afterAll(async () => {
    await proxy?.close();
    await reelay?.close(1000);
    await d?.drop();
  });

  it('/healthz gives up after 2 s: 503 database_unavailable', async () => {
    const health = await get(reelay, '/healthz');
    expectDatabaseUnavailable(health);
    expect(health.ms).toBeGreaterThanOrEqual(1_900);
    expect(health.ms).toBeLessThan(4_000);
  });

  it('a request waits at most the query timeout, then 503 database_unavailable', async () => {
    const started = Date.now();
    const create = await createVideo(reelay);
    expectDatabaseUnavailable(create);
    expect(Date.now() - started).toBeLessThan(PG_QUERY_TIMEOUT_MS + 3_000);
  });
});

describe('npm start on PostgreSQL', () => {
  let d: TestPgDatabase;
  let child: ChildProcess | undefined;
  const ROOT = new URL('../..', import.meta.url).pathname;

  beforeAll(async () => {
    d = await emptyPgDatabase();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await d.drop();
  });

  function start(env: Record<string, string>) {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: '0', UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8').on('data', (x: string) => (stdout += x));
    proc.stderr!.setEncoding('utf8').on('data', (x: string) => (stderr += x));
    const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
    return { proc, out: () => stdout, err: () => stderr, exited };
  }

  it('migrates an empty database before the port opens, serves /healthz, logs the URL without its password, stops on SIGTERM', async () => {
    const run = start({ DATABASE_URL: d.url });
    child = run.proc;
    const listening = await eventually(
      async () => run.out().split('\n').find((l) => l.includes('reelay listening')),
      (l) => l !== undefined || run.proc.exitCode !== null,
      60_000,
    );
    expect(listening, run.err()).toBeDefined();
    const line = JSON.parse(listening!) as { url: string; database: string; engine: string };
    expect(line.engine).toBe('postgres');
    expect(line.database).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/reelay_test_/);
    expect(run.out()).not.toContain(new URL(d.url).password);

    const health = await fetch(`${line.url}/healthz`);
    expect(health.status).toBe(200);
    const client = new (await import('pg')).default.Client({ connectionString: d.url });
    await client.connect();
    const tables = await client.query("select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name in ('api_keys', 'jobs', 'ledger')");
    const names = await client.query("select distinct application_name from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
    await client.end();
    expect(tables.rows[0].n).toBe(3);
    expect(names.rows.map((r) => r.application_name)).toContain('reelay');

    run.proc.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('stops at start-up with exit 1 when the database cannot be reached, without showing the password', async () => {
    const hole = createServer();
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const port = (hole.address() as AddressInfo).port;
    await new Promise<void>((r) => hole.close(() => r()));
    const run = start({ DATABASE_URL: `postgres://reelay:hunter2-secret@127.0.0.1:${port}/reelay` });
    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(/could not start: .*ECONNREFUSED/);
    expect(run.err() + run.out()).not.toContain('hunter2-secret');
  });
});
