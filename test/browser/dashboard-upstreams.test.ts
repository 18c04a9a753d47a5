import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { parseUsd } from '../../src/money.js';
import { silentLogger } from '../../src/logging/logger.js';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { browserTests } from './chromium.js';
import { checkPage, WIDE } from './page-checks.js';

/**
 * The dashboard's Upstreams page in headless Chromium, over two fake provider accounts named by an
 * UPSTREAMS_FILE: both listed with their state and numbers, the Disable button (CSRF-protected,
 * audited as the admin PATCH is) takes one out of routing, and a create then goes to the other.
 */
const BROWSER = browserTests(process.env);
const CHROMIUM = BROWSER.run ? BROWSER.chromium : '';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const ADMIN_TOKEN = 'dashboard-upstreams-admin-token-01';
const KEY_A = 'sk-acct-a-dashboard-0001';
const KEY_B = 'sk-acct-b-dashboard-0002';
vi.setConfig({ testTimeout: 120_000 });

let reelay: RunningReelay;
let a: FaultUpstream;
let b: FaultUpstream;
let browser: Browser;
let page: Page;
let dir: string;
let secret: string;
const ui = (path = '') => `${reelay.url}/admin/ui${path}`;

async function submit(selector: string) {
  await Promise.all([page.waitForEvent('framenavigated'), page.click(selector)]);
  await page.waitForLoadState('load');
}

const create = () =>
  fetch(`${reelay.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sora-2', prompt: 'a lighthouse', seconds: '4' }),
  });

describe.runIf(BROWSER.run)('the Upstreams page of the dashboard', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reelay-dash-upstreams-'));
    a = await startFaultUpstream({ apiKey: KEY_A });
    b = await startFaultUpstream({ apiKey: KEY_B });
    const file = join(dir, 'upstreams.json');
    // Same priority and weight: either could take a create while both are enabled.
    writeFileSync(file, JSON.stringify({ upstreams: [
      { id: 'acct-a', base_url: a.url, api_key_env: 'ACCT_A_KEY', max_inflight_jobs: 40 },
      { id: 'acct-b', base_url: b.url, api_key_env: 'ACCT_B_KEY' },
    ] }));
    reelay = await startReelay(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', UPSTREAMS_FILE: file, ACCT_A_KEY: KEY_A, ACCT_B_KEY: KEY_B, ADMIN_TOKEN }),
      { reconciler: false, logger: silentLogger() },
    );
    const k = await createKey(reelay.deps.store, { name: 'upstreams-acme' }, Date.now());
    secret = k.secret;
    await reelay.deps.store.appendCredit(k.key.id, parseUsd('100.00'), 'seed', { actor: 'test', requestId: null, now: Date.now() });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await (await browser.newContext({ viewport: WIDE })).newPage();
    page.on('dialog', (d) => {
      throw new Error(`unexpected dialog (script ran?): ${d.message()}`);
    });
    await page.goto(ui('/login'));
    await page.fill('input[name=token]', ADMIN_TOKEN);
    await Promise.all([page.waitForURL(/\/admin\/ui$/), page.click('button[type=submit]')]);
  });

  afterAll(async () => {
    await browser?.close();
    await reelay?.close(1000);
    await a?.close();
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is in the navigation and lists both upstreams, ok, with their numbers and no credential', async () => {
    await page.goto(ui());
    await submit('nav a[href="/admin/ui/upstreams"]');
    expect(new URL(page.url()).pathname).toBe('/admin/ui/upstreams');
    await expect(page.locator('nav a[aria-current=page]').textContent()).resolves.toBe('Upstreams');
    const ids = await page.locator('#upstreams-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-upstream')));
    expect(ids).toEqual(['acct-a', 'acct-b']);
    for (const id of ids) await expect(page.locator(`tr[data-upstream="${id}"] .state`).textContent()).resolves.toBe('ok');
    await expect(page.locator('tr[data-upstream="acct-a"] .inflight').textContent()).resolves.toBe('0 / 40');
    await expect(page.locator('tr[data-upstream="acct-b"] .inflight').textContent()).resolves.toBe('0');
    const text = (await page.content()) ?? '';
    expect(text).toContain(a.url);
    expect(text).not.toContain(KEY_A);
    expect(text).not.toContain(KEY_B);
    await checkPage(page, 'upstreams');
  });

  it('disables one with its button (audited); a create then goes to the other; enabling brings it back', async () => {
    await page.goto(ui('/upstreams'));
    await submit('tr[data-upstream="acct-a"] button[type=submit]');
    expect(new URL(page.url()).pathname).toBe('/admin/ui/upstreams');
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('acct-a disabled');
    await expect(page.locator('tr[data-upstream="acct-a"] .state').textContent()).resolves.toBe('disabled');
    await expect(page.locator('tr[data-upstream="acct-b"] .state').textContent()).resolves.toBe('ok');
    await expect(page.locator('tr[data-upstream="acct-a"] button').textContent()).resolves.toBe('Enable');
    await checkPage(page, 'upstreams-disabled');

    const audit = await reelay.deps.store.listAudit({ limit: 10 });
    const entry = audit.find((e) => e.action === 'upstream.disable');
    expect(entry).toMatchObject({ actor: 'admin-ui', targetId: 'acct-a' });

    const before = { a: a.creates().length, b: b.creates().length };
    for (let i = 0; i < 4; i++) expect((await create()).status).toBe(200);
    expect(a.creates().length).toBe(before.a);
    expect(b.creates().length).toBe(before.b + 4);
    expect(b.creates().every((q) => q.headers.authorization === `Bearer ${KEY_B}`)).toBe(true);

    // The admin API sees the same state the page showed.
    const api = await fetch(`${reelay.url}/admin/upstreams`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const data = ((await api.json()) as { data: { id: string; state: string; jobs_24h: number; inflight_jobs: number }[] }).data;
    expect(data.map((u) => [u.id, u.state])).toEqual([['acct-a', 'disabled'], ['acct-b', 'ok']]);
    await page.reload();
    await expect(page.locator('tr[data-upstream="acct-b"] .jobs-24h').textContent()).resolves.toBe(String(data[1]!.jobs_24h));
    await expect(page.locator('tr[data-upstream="acct-b"] .inflight').textContent()).resolves.toBe(String(data[1]!.inflight_jobs));

    await submit('tr[data-upstream="acct-a"] button[type=submit]');
    await expect(page.locator('tr[data-upstream="acct-a"] .state').textContent()).resolves.toBe('ok');
    expect((await reelay.deps.store.listAudit({ limit: 10 })).some((e) => e.action === 'upstream.enable' && e.targetId === 'acct-a')).toBe(true);
  });

  it('refuses a POST without the CSRF token or from another origin, and changes nothing', async () => {
    await page.goto(ui('/upstreams'));
    const csrf = (await page.locator('tr[data-upstream="acct-b"] input[name=_csrf]').getAttribute('value'))!;
    const action = ui('/upstreams/acct-b/enabled');
    const missing = await page.request.post(action, { form: { enabled: 'false' }, maxRedirects: 0 });
    expect(missing.status()).toBe(403);
    const wrong = await page.request.post(action, { form: { enabled: 'false', _csrf: 'x'.repeat(43) }, maxRedirects: 0 });
    expect(wrong.status()).toBe(403);
    const foreign = await page.request.post(action, { form: { enabled: 'false', _csrf: csrf }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    expect(foreign.status()).toBe(403);
    await page.reload();
    await expect(page.locator('tr[data-upstream="acct-b"] .state').textContent()).resolves.toBe('ok');
    const unknown = await page.request.post(ui('/upstreams/no-such/enabled'), { form: { enabled: 'false', _csrf: csrf }, headers: { origin: reelay.url }, maxRedirects: 0 });
    expect(unknown.status()).toBe(404);
  });

  it('shows an upstream cooling down after a 429 with retry-after: until when, and its last error', async () => {
    // Only acct-b can take the create (acct-a disabled through the store, as the PATCH does it).
    await reelay.deps.store.setUpstreamEnabled('acct-a', false, { actor: 'test', requestId: null, now: Date.now() }, { action: 'upstream.disable', targetId: 'acct-a', details: { enabled: false } });
    b.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 429, retryAfter: '600' } });
    const refused = await create();
    expect(refused.status).toBe(503);
    await page.goto(ui('/upstreams'));
    await expect(page.locator('tr[data-upstream="acct-b"] .state').textContent()).resolves.toBe('cooling_down');
    const until = await page.locator('tr[data-upstream="acct-b"] .cooldown-until').textContent();
    expect(Date.parse(`${until!.replace(' ', 'T')}Z`)).toBeGreaterThan(Date.now() + 500_000);
    await expect(page.locator('tr[data-upstream="acct-b"] .last-error').textContent()).resolves.toContain('429');
    await expect(page.locator('tr[data-upstream="acct-a"] .state').textContent()).resolves.toBe('disabled');
    await checkPage(page, 'upstreams-cooling');
  });
});
