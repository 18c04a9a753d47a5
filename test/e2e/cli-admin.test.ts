import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore, type Store } from '../../src/db/store.js';
import { DEFAULT_CATALOG } from '../../src/billing/catalog.js';
import { parseUsd } from '../../src/money.js';
import { seedJob, seedKey } from '../integration/admin-fixtures.js';
import type { KeyRow } from '../../src/db/keys-store.js';
import type { JobRow } from '../../src/db/billing-store.js';
import { runReelayCli } from '../helpers/cli.js';

/** The operator CLI as operators run it: `node bin/reelay.js …` against a SQLite file. */

// Every command is a fresh `node` + tsx process: a test runs up to six of them one after another,
// which took 17 s of the default 30 s on a loaded 2-core machine. Nothing here is timed.
vi.setConfig({ testTimeout: 120_000 });
const BIN = fileURLToPath(new URL('../../bin/reelay.js', import.meta.url));
const T0 = Date.UTC(2026, 10, 1);

let dir: string;
let dbPath: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function reelay(args: string[], opts: { closeStdoutAfter?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: dbPath, LOG_LEVEL: 'silent' };
    delete env.PRICING_FILE;
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.closeStdoutAfter !== undefined && stdout.length >= opts.closeStdoutAfter) child.stdout.destroy();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Opens the same file the CLI uses, runs `fn`, closes it (the CLI runs in other processes). */
async function withStore<T>(fn: (store: Store) => T | Promise<T>): Promise<T> {
  const database = openMigratedDatabase(dbPath);
  database.sqlite.pragma('synchronous = OFF'); // test seeding only: no fsync per transaction
  try {
    return await fn(createStore(database));
  } finally {
    database.close();
  }
}

const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-cli-'));
  dbPath = join(dir, 'reelay.db');
  await withStore(() => undefined); // the CLI works on an existing database only
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reelay --help', () => {
  it('prints help for the CLI and for every command, exit 0', async () => {
    const cases: [string[], string][] = [
      [['--help'], 'usage: reelay <command>'],
      [['keys', 'create', '--help'], 'usage: reelay keys create --name NAME'],
      [['keys', 'credit', '--help'], 'usage: reelay keys credit ID --amount USD'],
      [['usage', 'export', '--help'], 'usage: reelay usage export [--from D] [--to D] [--key ID] [--format csv|jsonl|json] [--out FILE]'],
      [['usage', 'summary', '--help'], 'usage: reelay usage summary [--group-by key|model|day]'],
      [['requests', 'show', '--help'], 'usage: reelay requests show ID'],
      [['keys', 'update', '--help'], 'usage: reelay keys update ID [--name NAME] [--webhook-url URL | --no-webhook]'],
      [['keys', 'rotate-webhook-secret', '--help'], 'usage: reelay keys rotate-webhook-secret ID'],
    ];
    const runs = await Promise.all(cases.map(([args]) => reelay(args)));
    runs.forEach((run, i) => {
      expect(run.code, cases[i]![0].join(' ')).toBe(0);
      expect(run.stdout.startsWith(cases[i]![1]), run.stdout).toBe(true);
    });
    expect(runs[0]!.stdout).toContain('usage export');
    expect(runs[0]!.stdout).toContain('requests show ID');
  });
});

describe('reelay keys', () => {
  it('creates, lists, credits, shows and revokes a key, auditing each change', async () => {
    const created = await reelay(['keys', 'create', '--name', 'cli team', '--credit', '10.00', '--rpm', '30']);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; balance_usd: string; rpm_limit: number };
    expect(key.key).toMatch(/^sk-reelay-[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ balance_usd: '10.000000', rpm_limit: 30 });
    expect(created.stderr).toContain('not shown again');

    const [list, credit] = await Promise.all([reelay(['keys', 'list']), reelay(['keys', 'credit', key.id, '--amount', '2.5', '--note', 'top-up'])]);
    expect(list.code).toBe(0);
    const listed = lines(list.stdout).find((k) => k.id === key.id)!;
    expect(listed.name).toBe('cli team');
    expect(list.stdout).not.toContain(key.key);
    expect(credit.code, credit.stderr).toBe(0);
    expect(JSON.parse(credit.stdout)).toMatchObject({ entry: { kind: 'credit', amount_usd: '2.500000', note: 'top-up' }, key: { balance_usd: '12.500000' } });

    const [overdraw, revoke] = await Promise.all([reelay(['keys', 'credit', key.id, '--amount=-20']), reelay(['keys', 'revoke', key.id])]);
    expect(overdraw.code, 'refused by the database').toBe(1);
    expect(overdraw.stderr).toContain('below zero');
    expect(revoke.code).toBe(0);
    expect(JSON.parse(revoke.stdout).revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/);

    const show = await reelay(['keys', 'show', key.id]);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: key.id, balance_usd: '12.500000' });
    const trail = await withStore((s) => s.searchAudit({ targetId: key.id, limit: 10 }));
    expect(trail.map((a) => [a.action, a.actor])).toEqual([
      ['key.revoke', 'cli'],
      ['key.credit', 'cli'],
      ['key.create', 'cli'],
    ]);
  });
});

describe('reelay keys: webhook endpoints', () => {
  // A public address literal: accepted without DNS, and never called (these keys run no jobs).
  const HOOK = 'https://1.1.1.1/reelay-hooks';
  const local = (args: string[], allowPrivate = false) => runReelayCli(args, { DATABASE_URL: dbPath, WEBHOOK_ALLOW_PRIVATE: allowPrivate ? '1' : '0' });

  it('sets the URL at creation (secret printed once), shows it, changes it, rotates and removes it, auditing each change', async () => {
    const created = await local(['keys', 'create', '--name', 'hooked', '--webhook-url', HOOK]);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; webhook_url: string; webhook_secret: string };
    expect(key.webhook_url).toBe(HOOK);
    expect(key.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.stderr).toContain('webhook secret');

    const [show, list] = await Promise.all([local(['keys', 'show', key.id]), local(['keys', 'list'])]);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: key.id, webhook_url: HOOK });
    expect(lines(list.stdout).find((k) => k.id === key.id)).toMatchObject({ webhook_url: HOOK });
    for (const run of [show, list]) {
      expect(run.stdout).not.toContain('whsec_');
      expect(run.stdout).not.toContain('webhook_secret');
    }

    // A new URL keeps the secret: none is printed.
    const moved = await local(['keys', 'update', key.id, '--webhook-url', `${HOOK}/v2`]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({ id: key.id, webhook_url: `${HOOK}/v2` });
    expect(moved.stdout).not.toContain('whsec_');
    expect(moved.stderr).toBe('');
    expect(await withStore((s) => s.webhookTarget(key.id, Date.now()))).toEqual({ url: `${HOOK}/v2`, secrets: [key.webhook_secret] });

    const rotated = await local(['keys', 'rotate-webhook-secret', key.id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const r = JSON.parse(rotated.stdout) as { webhook_secret: string; previous_secret_expires_at: string; webhook_url: string };
    expect(r.webhook_secret).toMatch(/^whsec_/);
    expect(r.webhook_secret).not.toBe(key.webhook_secret);
    expect(Date.parse(r.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(rotated.stderr).toContain(r.previous_secret_expires_at);
    // Both sign during the overlap, the new one first.
    expect((await withStore((s) => s.webhookTarget(key.id, Date.now()))).secrets).toEqual([r.webhook_secret, key.webhook_secret]);

    const removed = await local(['keys', 'update', key.id, '--no-webhook']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ id: key.id, webhook_url: null });
    expect(await withStore((s) => s.webhookTarget(key.id, Date.now()))).toEqual({ url: null, secrets: [] });
    const noEndpoint = await local(['keys', 'rotate-webhook-secret', key.id]);
    expect(noEndpoint.code, 'refused: no endpoint').toBe(1);
    expect(noEndpoint.stderr).toContain('no webhook_url');

    // Set again: a fresh secret, printed once.
    const again = await local(['keys', 'update', key.id, '--webhook-url', HOOK]);
    expect(again.code, again.stderr).toBe(0);
    const fresh = (JSON.parse(again.stdout) as { webhook_secret: string }).webhook_secret;
    expect(fresh).toMatch(/^whsec_/);
    expect([key.webhook_secret, r.webhook_secret]).not.toContain(fresh);
    expect(again.stderr).toContain('not shown again');

    const trail = await withStore((s) => s.searchAudit({ targetId: key.id, limit: 10 }));
    expect(trail.map((a) => [a.action, a.actor])).toEqual([
      ['key.update', 'cli'],
      ['key.update', 'cli'],
      ['key.webhook_secret.rotate', 'cli'],
      ['key.update', 'cli'],
      ['key.create', 'cli'],
    ]);
    expect(trail.map((a) => a.details ?? '').join(' ')).not.toContain('whsec_');
  });

  it('refuses a malformed URL or contradictory flags (exit 2) and a private address (exit 1) unless WEBHOOK_ALLOW_PRIVATE=1', async () => {
    const before = await withStore(async (s) => (await s.listKeys({ limit: 10_000 })).length);
    const target = JSON.parse((await local(['keys', 'create', '--name', 'plain'])).stdout) as { id: string };
    const bad = await Promise.all(
      [
        ['keys', 'create', '--name', 'ftp', '--webhook-url', 'ftp://1.1.1.1/x'],
        ['keys', 'create', '--name', 'relative', '--webhook-url', '/hooks'],
        ['keys', 'create', '--name', 'userinfo', '--webhook-url', 'https://user:pw@1.1.1.1/x'],
        ['keys', 'update', target.id, '--webhook-url', 'not a url'],
        ['keys', 'update', target.id, '--webhook-url', HOOK, '--no-webhook'],
        ['keys', 'update', target.id],
        ['keys', 'update'],
        ['keys', 'rotate-webhook-secret'],
      ].map((args) => local(args)),
    );
    bad.forEach((run) => expect(run.code, run.stderr).toBe(2));
    for (const run of bad.slice(0, 4)) expect(run.stderr).toContain('--webhook-url');
    expect(bad[0]!.stderr).toContain('http or https');
    expect(bad[4]!.stderr).toContain('not both');

    const [privateCreate, privateUpdate, unknownUpdate, unknownRotate] = await Promise.all([
      local(['keys', 'create', '--name', 'loopback', '--webhook-url', 'http://127.0.0.1:9/hook']),
      local(['keys', 'update', target.id, '--webhook-url', 'http://[::1]/hook']),
      local(['keys', 'update', 'key_nope', '--webhook-url', HOOK]),
      local(['keys', 'rotate-webhook-secret', 'key_nope']),
    ]);
    expect([privateCreate.code, privateUpdate.code, unknownUpdate.code, unknownRotate.code]).toEqual([1, 1, 1, 1]);
    expect(privateCreate.stderr).toContain('127.0.0.1, a loopback, private');
    expect(privateCreate.stderr).toContain('WEBHOOK_ALLOW_PRIVATE=1');
    expect(privateUpdate.stderr).toContain('::1');
    expect(unknownUpdate.stderr).toContain("no key with id 'key_nope'");
    expect(unknownRotate.stderr).toContain("no key with id 'key_nope'");
    expect(await withStore(async (s) => (await s.listKeys({ limit: 10_000 })).length), 'only the plain key was created').toBe(before + 1);
    expect((await withStore((s) => s.getKey(target.id)))!.webhookUrl).toBeNull();

    const allowed = await local(['keys', 'update', target.id, '--webhook-url', 'http://127.0.0.1:9/hook'], true);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ webhook_url: 'http://127.0.0.1:9/hook', webhook_secret: expect.stringMatching(/^whsec_/) });
  });
});

describe('reelay usage and requests', () => {
  let acme: KeyRow;
  let other: KeyRow;
  const jobs: JobRow[] = [];

  beforeAll(async () => {
    await withStore(async (store) => {
      const deps = { store, catalog: DEFAULT_CATALOG };
      acme = await seedKey(deps, 'Acme "Video",\nInc.', '1000.00');
      other = await seedKey(deps, 'other', '1000.00');
      const outcomes = ['completed', 'completed', 'failed', 'rejected', 'expired', 'open'] as const;
      for (let i = 0; i < 600; i++) {
        jobs.push(
          await seedJob(deps, i % 3 === 0 ? other : acme, {
            at: T0 + Math.floor(i / 2) * 60_000,
            outcome: outcomes[i % outcomes.length]!,
            seconds: [4, 8, 12][i % 3],
            billedSeconds: i % 5 === 0 ? 3 : undefined,
            requestId: i === 0 ? 'req_first' : undefined,
          }),
        );
      }
      await store.insertRequestLogBatch([
        row({ requestId: 'req_first', clientRequestId: 'client-abc', upstreamRequestId: 'up-xyz', videoId: jobs[0]!.videoId, method: 'POST', at: T0 }),
        row({ requestId: 'req_poll', videoId: jobs[0]!.videoId, at: T0 + 5000 }),
        row({ requestId: 'req_other', videoId: 'video_else', at: T0 + 6000 }),
      ]);
    });
  });

  const capturedMicros = () => jobs.reduce((s, j) => s + j.chargedMicros, 0);

  it('exports CSV to stdout: every job, totals equal to the ledger, nothing on stderr when it is not a terminal', async () => {
    const run = await reelay(['usage', 'export']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const rows = parse(run.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(600);
    expect(rows.map((r) => r.job_id)).toEqual([...jobs].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((j) => j.id));
    expect(rows.reduce((s, r) => s + parseUsd(r.amount_usd!), 0)).toBe(capturedMicros());
    const ledgerCaptures = await withStore(async (s) => (await s.listAdminLedger({ order: 'asc', limit: 100_000 })).filter((e) => e.kind === 'capture').reduce((t, e) => t + e.amountMicros, 0));
    expect(capturedMicros()).toBe(ledgerCaptures);
    expect(new Set(rows.filter((r) => r.key_id === acme.id).map((r) => r.key_name))).toEqual(new Set([acme.name]));
  });

  it('exports JSON lines for one key and a range, and writes --out files whole', async () => {
    const out = join(dir, 'usage.csv');
    const [jsonl, file, stdoutCsv] = await Promise.all([
      reelay(['usage', 'export', '--format', 'jsonl', '--key', other.id, '--from', '2026-11-01T01:00:00Z', '--to', '2026-11-01T02:00:00Z']),
      reelay(['usage', 'export', '--out', out, '--from', '2026-11-01']),
      reelay(['usage', 'export', '--from', '2026-11-01']),
    ]);
    const expected = jobs.filter((j) => j.keyId === other.id && j.createdAt >= T0 + 3600_000 && j.createdAt < T0 + 7200_000);
    expect(lines(jsonl.stdout).map((r) => r.job_id).sort()).toEqual(expected.map((j) => j.id).sort());
    expect(expected.length).toBeGreaterThan(10);
    expect(file.code, file.stderr).toBe(0);
    expect(file.stdout).toBe('');
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(readFileSync(out, 'utf8')).toBe(stdoutCsv.stdout);
  });

  it('ends quietly when the reader of stdout goes away (| head)', async () => {
    const run = await reelay(['usage', 'export', '--format', 'jsonl'], { closeStdoutAfter: 1 });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('refuses bad options with exit 2 and a message naming the option', async () => {
    const [format, from, range] = await Promise.all([
      reelay(['usage', 'export', '--format', 'xlsx']),
      reelay(['usage', 'export', '--from', '2026-02-30']),
      reelay(['usage', 'summary', '--from', '2026-11-02', '--to', '2026-11-01']),
    ]);
    expect([format.code, from.code, range.code]).toEqual([2, 2, 2]);
    expect(format.stderr).toContain('--format');
    expect(from.stderr).toContain('--from');
    expect(range.stderr).toContain('--to');
  });

  it('prints usage summaries as JSON, totals matching the export', async () => {
    const [byKey, byModel] = await Promise.all([reelay(['usage', 'summary']), reelay(['usage', 'summary', '--group-by', 'day', '--key', acme.id])]);
    expect(byKey.code, byKey.stderr).toBe(0);
    const summary = JSON.parse(byKey.stdout) as { group_by: string; data: { group: string; jobs: number; amount_usd: string }[]; total: { jobs: number; amount_usd: string } };
    expect(summary.group_by).toBe('key');
    expect(summary.total).toMatchObject({ jobs: 600 });
    expect(parseUsd(summary.total.amount_usd)).toBe(capturedMicros());
    expect(summary.data.find((g) => g.group === acme.id)!.jobs).toBe(400);
    const days = JSON.parse(byModel.stdout) as { data: { group: string; jobs: number }[] };
    expect(days.data).toEqual([expect.objectContaining({ group: '2026-11-01', jobs: 400 })]);
  });

  it('shows the request-log rows of a request id (reelay, client or upstream) or a video id', async () => {
    const runs = await Promise.all(['req_first', 'client-abc', 'up-xyz', jobs[0]!.videoId!, 'req_nothing'].map((id) => reelay(['requests', 'show', id])));
    for (const run of runs.slice(0, 3)) expect(lines(run.stdout).map((r) => r.request_id)).toEqual(['req_first']);
    expect(lines(runs[3]!.stdout).map((r) => [r.request_id, r.method])).toEqual([
      ['req_first', 'POST'],
      ['req_poll', 'GET'],
    ]);
    expect(lines(runs[0]!.stdout)[0]).toMatchObject({ client_request_id: 'client-abc', upstream_request_id: 'up-xyz', video_id: jobs[0]!.videoId });
    expect(runs[4]!.code).toBe(1);
    expect(runs[4]!.stderr).toContain("no request-log rows match 'req_nothing'");
  });
});

function row(r: { requestId: string; clientRequestId?: string; upstreamRequestId?: string; videoId: string | null; method?: string; at: number }) {
  return {
    requestId: r.requestId,
    clientRequestId: r.clientRequestId ?? null,
    upstreamRequestId: r.upstreamRequestId ?? null,
    keyId: null,
    method: r.method ?? 'GET',
    route: '/v1/videos',
    videoId: r.videoId,
    status: 200,
    errorCode: null,
    durationMs: 5,
    upstreamDurationMs: 4,
    bytesIn: 0,
    bytesOut: 100,
    createdAt: r.at,
  };
}

describe('reelay exit codes and the database file', () => {
  it('refuses a database file that does not exist (exit 2, naming the path) and creates nothing; migrate creates it', async () => {
    const missing = join(dir, 'typo', 'reelay.db');
    const runs = await Promise.all([['keys', 'list'], ['usage', 'summary'], ['requests', 'show', 'req_x'], ['keys', 'create', '--name', 'x']].map((args) => runReelayCli(args, { DATABASE_URL: missing })));
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(missing);
      expect(run.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'typo'))).toBe(false);
    const migrate = await runReelayCli(['migrate'], { DATABASE_URL: missing });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(existsSync(missing)).toBe(true);
  });

  it('exits 2 for a bad command line or a malformed value, changing nothing', async () => {
    const before = await withStore(async (s) => (await s.listKeys({ limit: 10_000 })).length);
    const cases = [
      [],
      ['keys', 'create', '--name', 'bad credit', '--credit', 'abc'],
      ['keys', 'create', '--name', 'huge credit', '--credit', '999999999999'],
      ['keys', 'create', '--name', 'negative', '--credit=-1'],
      ['keys', 'create', '--name', 'bad downloads', '--max-downloads', '0'],
      ['keys', 'create', '--name', 'bad downloads', '--max-downloads', '1001'],
      ['keys', 'create', '--name', 'bad rpm', '--rpm', 'fast'],
      ['keys', 'credit', 'key_any', '--amount', 'ten'],
      ['keys', 'show'],
      ['keys', 'frobnicate'],
    ];
    const runs = await Promise.all(cases.map((args) => reelay(args)));
    runs.forEach((run, i) => expect(run.code, `${cases[i]!.join(' ')}: ${run.stderr}`).toBe(2));
    expect(runs[0]!.stderr).toContain('usage: reelay <command>');
    expect(runs[1]!.stderr).toContain('--credit');
    expect(runs[4]!.stderr).toContain('--max-downloads');
    expect(await withStore(async (s) => (await s.listKeys({ limit: 10_000 })).length)).toBe(before);
  });

  it('exits 1 when nothing is found', async () => {
    const runs = await Promise.all([['keys', 'credit', 'key_nope', '--amount', '1'], ['keys', 'show', 'key_nope'], ['keys', 'revoke', 'key_nope']].map((args) => reelay(args)));
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain("no key with id 'key_nope'");
    }
  });

  it('creates a key with --max-downloads', async () => {
    const run = await reelay(['keys', 'create', '--name', 'downloads', '--max-downloads', '5']);
    expect(run.code, run.stderr).toBe(0);
    const key = JSON.parse(run.stdout) as { id: string; max_concurrent_downloads: number };
    expect(key.max_concurrent_downloads).toBe(5);
    expect(await withStore(async (s) => (await s.getKey(key.id))!.maxConcurrentDownloads)).toBe(5);
  });
});
