import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { silentLogger } from '../../src/logging/logger.js';
import { seedJob, seedKey } from '../integration/admin-fixtures.js';
import { runReelayCli } from '../helpers/cli.js';

/** `REELAY_URL` + `ADMIN_TOKEN`: the CLI acts through a running server's admin API, never opening a database. */
vi.setConfig({ testTimeout: 120_000 });
const TOKEN = 'cli-remote-admin-token-0123456789';
let dir: string;
let dbPath: string;
let reelay: RunningReelay;
let remote: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-cli-remote-'));
  dbPath = join(dir, 'server.db');
  reelay = await startReelay(
    loadConfig({ PORT: '0', DATABASE_URL: dbPath, UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', UPSTREAM_API_KEY: 'sk-up', ADMIN_TOKEN: TOKEN }),
    { logger: silentLogger(), reconciler: false },
  );
  // A DATABASE_URL that does not exist: any attempt to open it would fail the command (exit 2).
  remote = { REELAY_URL: reelay.url, ADMIN_TOKEN: TOKEN, DATABASE_URL: join(dir, 'absent', 'reelay.db') };
});
afterAll(async () => {
  await reelay.close(1000);
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI through the server, run in an empty directory (so a stray ./data would show). */
const viaServer = (args: string[], env: Record<string, string> = {}) => runReelayCli(args, { ...remote, ...env }, { cwd: dir });
const viaDatabase = (args: string[]) => runReelayCli(args, { DATABASE_URL: dbPath }, { cwd: dir });
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

describe('reelay CLI with REELAY_URL', () => {
  it('creates, lists, credits, shows and revokes keys through the admin API, audited by the server', async () => {
    const created = await viaServer(['keys', 'create', '--name', 'remote team', '--credit', '10.00', '--rpm', '30', '--max-downloads', '4']);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    expect(key.key).toMatch(/^sk-reelay-/);
    expect(key).toMatchObject({ name: 'remote team', balance_usd: '10.000000', rpm_limit: 30, max_concurrent_downloads: 4 });
    expect(created.stderr).toContain('not shown again');
    expect(await reelay.deps.store.getKey(key.id)).toMatchObject({ name: 'remote team', balanceMicros: 10_000_000 });

    const list = await viaServer(['keys', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(lines(list.stdout).map((k) => k.id)).toContain(key.id);

    const credit = await viaServer(['keys', 'credit', key.id, '--amount', '2.5', '--note', 'top-up']);
    expect(credit.code, credit.stderr).toBe(0);
    expect(JSON.parse(credit.stdout)).toMatchObject({ entry: { kind: 'credit', amount_usd: '2.500000', note: 'top-up' }, key: { balance_usd: '12.500000' } });

    const overdraw = await viaServer(['keys', 'credit', key.id, '--amount=-20']);
    expect(overdraw.code, 'refused by the server').toBe(1);
    expect(overdraw.stderr).toContain('below zero');

    // The same key printed through the server and from the database.
    const [shown, local] = await Promise.all([viaServer(['keys', 'show', key.id]), viaDatabase(['keys', 'show', key.id])]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(local.stdout);

    const revoke = await viaServer(['keys', 'revoke', key.id]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(JSON.parse(revoke.stdout).revoked_at).toMatch(/^\d{4}-/);
    const trail = await reelay.deps.store.searchAudit({ targetId: key.id, limit: 10 });
    expect(trail.map((a) => a.action)).toEqual(['key.revoke', 'key.credit', 'key.create']);
    expect(trail.every((a) => a.requestId?.startsWith('req_'))).toBe(true);

    expect(existsSync(join(dir, 'absent')), 'no database opened or created').toBe(false);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('exits 1 for an unknown key or a refused change, 2 for a malformed value (never sent)', async () => {
    const [show, credit, malformed] = await Promise.all([
      viaServer(['keys', 'show', 'key_nope']),
      viaServer(['keys', 'credit', 'key_nope', '--amount', '1']),
      viaServer(['keys', 'create', '--name', 'x', '--credit', 'abc']),
    ]);
    expect([show.code, credit.code, malformed.code]).toEqual([1, 1, 2]);
    expect(show.stderr).toContain('No key found');
    expect(malformed.stderr).toContain('--credit');
  });

  it('sets, shows, rotates and removes a webhook endpoint through the admin API; the server checks the address', async () => {
    const HOOK = 'https://1.1.1.1/reelay-hooks'; // a public address literal, never called (no jobs)
    const created = await viaServer(['keys', 'create', '--name', 'remote hooked', '--webhook-url', HOOK]);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; webhook_secret: string };
    expect(key).toMatchObject({ webhook_url: HOOK, webhook_secret: expect.stringMatching(/^whsec_/) });

    // The same key (with its URL, without its secret) through the server and from the database.
    const [shown, local] = await Promise.all([viaServer(['keys', 'show', key.id]), viaDatabase(['keys', 'show', key.id])]);
    expect(shown.stdout).toBe(local.stdout);
    expect(JSON.parse(shown.stdout).webhook_url).toBe(HOOK);
    expect(shown.stdout).not.toContain('whsec_');

    const rotated = await viaServer(['keys', 'rotate-webhook-secret', key.id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const r = JSON.parse(rotated.stdout) as { webhook_secret: string; previous_secret_expires_at: string };
    expect(r.webhook_secret).not.toBe(key.webhook_secret);
    expect((await reelay.deps.store.webhookTarget(key.id, Date.now())).secrets).toEqual([r.webhook_secret, key.webhook_secret]);

    const [refused, malformed] = await Promise.all([
      viaServer(['keys', 'update', key.id, '--webhook-url', 'http://10.0.0.7/hook']),
      viaServer(['keys', 'update', key.id, '--webhook-url', 'gopher://1.1.1.1/']),
    ]);
    expect(refused.code, 'refused by the server').toBe(1);
    expect(refused.stderr).toContain('10.0.0.7, a loopback, private');
    expect(malformed.code, 'never sent').toBe(2);
    expect((await reelay.deps.store.getKey(key.id))!.webhookUrl).toBe(HOOK);

    const removed = await viaServer(['keys', 'update', key.id, '--no-webhook']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).webhook_url).toBeNull();
    const [noEndpoint, unknown] = await Promise.all([viaServer(['keys', 'rotate-webhook-secret', key.id]), viaServer(['keys', 'update', 'key_nope', '--no-webhook'])]);
    expect([noEndpoint.code, unknown.code]).toEqual([1, 1]);
    expect(noEndpoint.stderr).toContain('no webhook_url');

    const trail = await reelay.deps.store.searchAudit({ targetId: key.id, limit: 10 });
    expect(trail.map((a) => a.action)).toEqual(['key.update', 'key.webhook_secret.rotate', 'key.create']);
    expect(trail.every((a) => a.requestId?.startsWith('req_') && a.actor === 'admin')).toBe(true);
  });

  it('prints the same usage export and summary as the local mode', async () => {
    const key = await seedKey(reelay.deps, 'exported');
    for (let i = 0; i < 5; i++) await seedJob(reelay.deps, key, { at: Date.UTC(2026, 10, 1, i), outcome: i % 2 ? 'completed' : 'failed' });
    for (const args of [['usage', 'export'], ['usage', 'export', '--format', 'jsonl', '--key', key.id], ['usage', 'summary', '--group-by', 'day']]) {
      const [server, local] = await Promise.all([viaServer(args), viaDatabase(args)]);
      expect(server.code, server.stderr).toBe(0);
      expect(server.stdout, args.join(' ')).toBe(local.stdout);
    }
    const out = join(dir, 'usage.csv');
    const file = await viaServer(['usage', 'export', '--out', out]);
    expect(file.code, file.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('shows request-log rows by request id or video id, oldest first; exits 1 when none match', async () => {
    const row = (requestId: string, videoId: string | null, at: number) => ({
      requestId, clientRequestId: null, upstreamRequestId: null, keyId: null, method: 'GET', route: '/v1/videos/:id',
      videoId, status: 200, errorCode: null, durationMs: 1, upstreamDurationMs: 1, bytesIn: 0, bytesOut: 10, createdAt: at,
    });
    await reelay.deps.store.insertRequestLogBatch([row('req_remote_a', 'video_remote', 1), row('req_remote_b', 'video_remote', 2), row('req_remote_c', null, 3)]);
    const [byVideo, byRequest, none] = await Promise.all([viaServer(['requests', 'show', 'video_remote']), viaServer(['requests', 'show', 'req_remote_c']), viaServer(['requests', 'show', 'req_absent'])]);
    expect(lines(byVideo.stdout).map((r) => r.request_id)).toEqual(['req_remote_a', 'req_remote_b']);
    expect(lines(byRequest.stdout).map((r) => r.request_id)).toEqual(['req_remote_c']);
    expect(none.code).toBe(1);
  });

  it('exits 2 without ADMIN_TOKEN, 1 when the server refuses the token', async () => {
    const [noToken, wrong] = await Promise.all([viaServer(['keys', 'list'], { ADMIN_TOKEN: '' }), viaServer(['keys', 'list'], { ADMIN_TOKEN: 'not-the-token-000000' })]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('ADMIN_TOKEN');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('invalid admin token');
  });
});
