import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openDatabase, openMigratedDatabase } from '../../src/db/client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey } from '../../src/keys/service.js';
import { MAX_AUTH_FAILURES } from '../../src/http/auth-throttle.js';
import { sessionId } from '../../src/admin/ui/session.js';
import { ADMIN_TOKEN, TestClock, fromAddress } from '../helpers/app-harness.js';

/**
 * Two reelay instances on one SQLite file (as two processes would be): a dashboard session, the
 * wrong-token throttle and a key's requests-per-minute limit hold across them.
 */
const dir = mkdtempSync(join(tmpdir(), 'reelay-instances-'));
const path = join(dir, 'reelay.db');
const clock = new TestClock();

function instance(migrate: boolean) {
  const config = loadConfig({ ADMIN_TOKEN, UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', UPSTREAM_API_KEY: 'sk-upstream-secret-0001', DATABASE_URL: path });
  const database = migrate ? openMigratedDatabase(path) : openDatabase(path);
  const deps = buildDeps(config, { database, logger: silentLogger(), now: clock.now });
  return { deps, app: createApp(deps), database };
}

const a = instance(true);
const b = instance(false);
afterAll(() => {
  b.database.close();
  a.database.close();
  rmSync(dir, { recursive: true, force: true });
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

/** Logs in on `app` through the dashboard's form; returns the session cookie ("name=value"). */
async function login(app: typeof a.app, address = '192.0.2.10', token = ADMIN_TOKEN) {
  const form = await app.request('/admin/ui/login', {}, fromAddress(address));
  const field = /name="_login"\s+value="([^"]+)"/.exec(await form.text())![1]!;
  const headers = { ...FORM, cookie: form.headers.get('set-cookie')!.split(';')[0]! };
  const res = await app.request('/admin/ui/login', { method: 'POST', headers, body: new URLSearchParams({ _login: field, token }).toString() }, fromAddress(address, headers));
  return { res, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '' };
}

const get = (app: typeof a.app, path: string, cookie: string) => app.request(path, { headers: { cookie } }, fromAddress('192.0.2.10'));
const post = (app: typeof a.app, path: string, cookie: string, form: Record<string, string>) => {
  const headers = { ...FORM, cookie };
  return app.request(path, { method: 'POST', headers, body: new URLSearchParams(form).toString() }, fromAddress('192.0.2.10', headers));
};
const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)![1]!;

describe('two instances on one database', () => {
  it('share dashboard sessions: logged in on one, the other accepts the cookie, its CSRF token, its flash and its reveal-once secret', async () => {
    const { res, cookie } = await login(a.app);
    expect(res.status).toBe(303);
    const token = cookie.split('=')[1]!;

    const overview = await get(b.app, '/admin/ui', cookie);
    expect(overview.status).toBe(200);
    const csrf = csrfOf(await overview.text());

    // A key created through B (with the CSRF token B rendered) …
    const created = await post(b.app, '/admin/ui/keys', cookie, { _csrf: csrf, name: 'made on b', credit_usd: '1.00' });
    expect(created.status).toBe(303);
    const keyPath = created.headers.get('location')!;

    // … leaves its secret in the database only sealed: neither the secret nor the token is readable there.
    const rows = a.database.sqlite.prepare('select * from admin_sessions').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.id).toBe(sessionId(token));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(token);
    expect(String(row.reveal_once)).toMatch(/^v1\./);
    expect(stored).not.toContain('sk-reelay-');

    // … and is shown once, by A, with B's flash message.
    const shown = await (await get(a.app, keyPath, cookie)).text();
    const secret = /sk-reelay-[A-Za-z0-9_-]{43}/.exec(shown)?.[0];
    expect(secret).toBeDefined();
    expect(stored).not.toContain(secret!);
    expect(shown).toContain('Key &quot;made on b&quot; created.');
    const again = await (await get(b.app, keyPath, cookie)).text();
    expect(again).not.toContain(secret!);
    expect(again).not.toContain('created.');
    expect(a.database.sqlite.prepare('select reveal_once, flash from admin_sessions').get()).toEqual({ reveal_once: null, flash: '[]' });

    // A form with a wrong CSRF token is refused on either instance.
    expect((await post(a.app, '/admin/ui/logout', cookie, { _csrf: 'wrong' })).status).toBe(403);
    // Logged out on A: B no longer accepts the cookie.
    expect((await post(a.app, '/admin/ui/logout', cookie, { _csrf: csrf })).status).toBe(303);
    const after = await get(b.app, '/admin/ui', cookie);
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/admin/ui/login');
  });

  it('share the wrong-token throttle: failures on both instances add up', async () => {
    const api = (app: typeof a.app, token: string) => {
      const headers = { authorization: `Bearer ${token}` };
      return app.request('/admin/keys', { headers }, fromAddress('192.0.2.66', headers));
    };
    for (let i = 0; i < MAX_AUTH_FAILURES / 2; i++) expect((await api(a.app, `wrong-token-a-${i}-xxxxxxxx`)).status).toBe(401);
    for (let i = 0; i < MAX_AUTH_FAILURES / 2; i++) expect((await login(b.app, '192.0.2.66', `wrong-login-b-${i}`)).res.status).toBe(401);
    const refused = await api(a.app, ADMIN_TOKEN);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBe(60);
    expect((await login(b.app, '192.0.2.66')).res.status).toBe(429);
    // Another address is unaffected.
    expect((await login(b.app, '192.0.2.67')).res.status).toBe(303);
  });

  it('count a key\'s requests per minute on both instances together', async () => {
    const { secret } = await createKey(a.deps.store, { name: 'rpm', rpmLimit: 4 }, clock.now());
    const call = (app: typeof a.app) => app.request('/v1/videos', { headers: { authorization: `Bearer ${secret}` } });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(i % 2 ? b.app : a.app)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? b.app : a.app)));
    expect(concurrent.every((r) => r.status === 429)).toBe(true);
    clock.advance(2 * 60_000);
    expect((await call(b.app)).status).toBe(200);
  });
});
