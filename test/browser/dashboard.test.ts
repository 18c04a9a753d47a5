import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { startReelay, buildDeps, type RunningReelay } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { newId } from '../../src/ids.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { Store } from '../../src/db/store.js';
import { TestClock } from '../helpers/clock.js';
import { browserTests } from './chromium.js';
import { checkPage, SHOTS, WIDE } from './page-checks.js';

/**
 * The admin dashboard in headless Chromium against a real reelay server (real sockets, a SQLite
 * file) and the upstream simulator. Screenshots of each page go to test-artifacts/screenshots.
 */
// Without Chromium this file fails with a message saying how to install it (never a silent
// skip); only SKIP_BROWSER_TESTS=1 skips the browser tests, on purpose.
const BROWSER = browserTests(process.env);
if (!BROWSER.run) process.stderr.write(`${BROWSER.reason}\n`);
const CHROMIUM = BROWSER.run ? BROWSER.chromium : '';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const ADMIN_TOKEN = 'dashboard-admin-token-0123456789';
const DAY = 86_400_000;
const EVIL_NAME = '<img src=x onerror=alert(1)> lab';


let sim: SimulatorHandle;
let reelay: RunningReelay;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let dir: string;
/** spend seeded per past UTC day, in micro-USD */
const seededSpend = new Map<string, number>();
let jobCount = 0;
let liveCreate: { requestId: string; videoId: string };
let createdKey: { id: string; secret: string };

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const ui = (path = '') => `${reelay.url}/admin/ui${path}`;
/** axe-core, layout checks and screenshots at 1366 and 420 px (see page-checks.ts). */
const shot = (name: string) => checkPage(page, name);

/** A billable job placed, submitted and settled through the billing store, at a given time. */
async function seedJob(store: Store, keyId: string, at: number, o: { model: string; seconds: number; rate: number; fail?: boolean; genMs: number; open?: boolean }) {
  const id = newId('job');
  const n = ++jobCount;
  const who = { actor: 'test', requestId: `req_seed_${n}`, now: at };
  const held = o.seconds * o.rate;
  const hold = await store.placeHold(
    { id, keyId, kind: 'create', model: o.model, size: '720x1280', requestedSeconds: o.seconds, sourceVideoId: null, rateMicros: o.rate, flatPriceMicros: null, heldMicros: held, requestId: who.requestId },
    who,
    { maxInflightJobs: null },
  );
  if (!hold.ok) throw new Error(`hold refused: ${hold.reason}`);
  await store.recordSubmitted(id, { videoId: `video_seed_${n}`, status: 'queued', progress: 0, upstreamRequestId: `upreq_seed_${n}`, nextPollAt: at + 1000 }, at);
  if (o.open) return;
  const done = at + o.genMs;
  const outcome = o.fail
    ? ({ kind: 'failed', finalObject: null, errorCode: 'server_error' } as const)
    : ({ kind: 'completed', billedSeconds: o.seconds, finalObject: '{}', completedAt: done } as const);
  await store.settleJob(id, outcome, { actor: 'system', requestId: null, now: done });
  if (!o.fail) seededSpend.set(day(done), (seededSpend.get(day(done)) ?? 0) + held);
}

async function seedHistory(store: Store, now: number) {
  const credit = (keyId: string, usd: number) => store.appendCredit(keyId, usd * 1_000_000, 'seed', { actor: 'test', requestId: null, now: now - 8 * DAY });
  const acme = (await createKey(store, { name: 'acme-production' }, now - 8 * DAY)).key;
  const lab = (await createKey(store, { name: EVIL_NAME }, now - 8 * DAY)).key;
  await credit(acme.id, 500);
  await credit(lab.id, 200);
  const today = Math.floor(now / DAY) * DAY;
  for (let k = 6; k >= 1; k--) {
    const base = today - k * DAY + 9 * 3600_000;
    for (let i = 0; i < k + 2; i++) await seedJob(store, acme.id, base + i * 60_000, { model: 'sora-2', seconds: 8, rate: 100_000, genMs: 60_000 + i * 5_000 });
    for (let i = 0; i < 3; i++) {
      // sora-2-pro degrades on the latest seeded day: slow and failing
      const degraded = k === 1;
      await seedJob(store, lab.id, base + 3600_000 + i * 60_000, { model: 'sora-2-pro', seconds: 4, rate: 300_000, genMs: degraded ? 600_000 : 120_000 + i * 10_000, fail: degraded && i < 2 });
    }
  }
  // a job stuck open for two days still holds money
  await seedJob(store, lab.id, today - 2 * DAY + 5 * 3600_000, { model: 'sora-2-pro', seconds: 4, rate: 300_000, genMs: 0, open: true });
}

async function login(p: Page, token: string) {
  await p.goto(ui('/login'));
  await p.fill('input[name=token]', token);
  await Promise.all([p.waitForLoadState('load'), p.click('button[type=submit]')]);
}

describe.runIf(BROWSER.run)('admin dashboard in a browser', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // The upstream's job finishes when this clock says so, not when a loaded machine gets round to it.
    const simClock = new TestClock(Date.now());
    sim = await startSimulator({ jobDurationMs: 200, now: simClock.now });
    dir = mkdtempSync(join(tmpdir(), 'reelay-dashboard-'));
    reelay = await startReelay(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: sim.url, ADMIN_TOKEN }),
      { reconciler: false, logger: silentLogger() },
    );
    const store = reelay.deps.store;
    const now = Date.now();
    await seedHistory(store, now);

    // Real traffic through /v1, so the request log has the rows a lookup shows.
    const live = await createKey(store, { name: 'live-traffic' }, now);
    await store.appendCredit(live.key.id, 20_000_000, 'seed', { actor: 'test', requestId: null, now });
    const auth = { authorization: `Bearer ${live.secret}`, 'content-type': 'application/json' };
    const res = await fetch(`${reelay.url}/v1/videos`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'sora-2', prompt: 'a lighthouse at dusk', seconds: '4' }) });
    expect(res.status).toBe(200);
    const video = (await res.json()) as { id: string };
    liveCreate = { requestId: res.headers.get('x-request-id')!, videoId: video.id };
    jobCount++;
    // A poll while it runs, then one after it finished: the lifecycle the request lookup shows.
    simClock.advance(100);
    const running = await fetch(`${reelay.url}/v1/videos/${video.id}`, { headers: auth });
    expect(((await running.json()) as { status: string }).status).toBe('in_progress');
    simClock.advance(100);
    const poll = await fetch(`${reelay.url}/v1/videos/${video.id}`, { headers: auth });
    expect(((await poll.json()) as { status: string }).status).toBe('completed');
    await reelay.deps.requestLog.flush();

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ acceptDownloads: true, viewport: WIDE });
    page = await context.newPage();
    page.on('dialog', (d) => {
      throw new Error(`unexpected dialog (script ran?): ${d.message()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await reelay?.close(1000);
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong admin token, then logs in and sets an HttpOnly SameSite=Strict session cookie', async () => {
    await page.goto(ui());
    expect(new URL(page.url()).pathname).toBe('/admin/ui/login');
    await shot('login');

    await login(page, 'not-the-admin-token-at-all');
    await expect(page.locator('#login-error').textContent()).resolves.toContain('Invalid admin token');
    expect((await context.cookies()).find((c) => c.name === 'reelay_admin_session')).toBeUndefined();

    await login(page, ADMIN_TOKEN);
    expect(new URL(page.url()).pathname).toBe('/admin/ui');
    const cookie = (await context.cookies()).find((c) => c.name === 'reelay_admin_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin/ui' });
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('shows spend per day as an SVG bar chart with the seeded days', async () => {
    await page.goto(ui());
    const chart = page.locator('svg#spend-chart');
    await expect(chart.count()).resolves.toBe(1);
    expect(seededSpend.size).toBe(6);
    for (const [d, micros] of seededSpend) {
      await expect(chart.locator(`rect.bar[data-day="${d}"]`).getAttribute('data-value')).resolves.toBe(String(micros));
    }
    // 14 days by default, one bar each, empty days included
    await expect(chart.locator('rect.bar').count()).resolves.toBe(14);
    await expect(page.locator('#open-holds').textContent()).resolves.toContain('video_seed_');
    await expect(page.locator('#top-keys').textContent()).resolves.toContain(EVIL_NAME); // shown as text, not markup
    await expect(page.locator('script, img[src=x]').count()).resolves.toBe(0);
    await shot('overview');
  });

  it('creates a key and shows its secret exactly once', async () => {
    await page.goto(ui('/keys'));
    await shot('keys');
    await page.fill('#create-key input[name=name]', 'dashboard-made');
    await page.fill('#create-key input[name=credit_usd]', '5.00');
    await page.fill('#create-key input[name=rpm_limit]', '30');
    await Promise.all([page.waitForURL(/\/admin\/ui\/keys\/key_/), page.click('#create-key button[type=submit]')]);
    const secret = (await page.locator('#secret-value').textContent())!.trim();
    expect(secret).toMatch(/^sk-reelay-[A-Za-z0-9_-]{43}$/);
    await expect(page.locator('#balance').textContent()).resolves.toBe('$5.00');
    await shot('key-created');

    // the secret works against /v1 …
    const list = await fetch(`${reelay.url}/v1/videos`, { headers: { authorization: `Bearer ${secret}` } });
    expect(list.status).toBe(200);
    // … and is never shown again
    await page.reload();
    await expect(page.locator('#new-secret').count()).resolves.toBe(0);
    expect(await page.content()).not.toContain(secret);

    const keyId = new URL(page.url()).pathname.split('/').pop()!;
    createdKey = { id: keyId, secret };
    const audit = (await reelay.deps.store.listAudit({ limit: 20 })).find((a) => a.action === 'key.create' && a.targetId === keyId);
    expect(audit).toMatchObject({ actor: 'admin-ui' });
    expect(audit!.requestId).toMatch(/^req_/);
  });

  it('tops up a key and the balance changes; an overdraft adjustment is refused', async () => {
    await page.fill('#top-up input[name=amount_usd]', '12.50');
    await page.fill('#top-up input[name=note]', 'invoice 1042');
    await Promise.all([page.waitForLoadState('load'), page.click('#top-up button[type=submit]')]);
    await expect(page.locator('#balance').textContent()).resolves.toBe('$17.50');
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('Balance is now $17.50');
    await expect(page.locator('#key-ledger').textContent()).resolves.toContain('invoice 1042');
    await shot('key-topped-up');

    await page.fill('#top-up input[name=amount_usd]', '-100');
    await Promise.all([page.waitForLoadState('load'), page.click('#top-up button[type=submit]')]);
    await expect(page.locator('.flash.error').textContent()).resolves.toContain('below zero');
    await expect(page.locator('#balance').textContent()).resolves.toBe('$17.50');

    const keyId = new URL(page.url()).pathname.split('/').pop()!;
    const credit = (await reelay.deps.store.listAdminLedger({ keyId, order: 'desc', limit: 1 }))[0]!;
    expect(credit).toMatchObject({ kind: 'credit', amountMicros: 12_500_000, actor: 'admin-ui' });
  });

  it('finds a request by its id and shows the job lifecycle', async () => {
    await page.goto(ui('/requests'));
    await page.fill('input[name=id]', liveCreate.requestId);
    await Promise.all([page.waitForLoadState('load'), page.click('form.filters button[type=submit]')]);
    const lifecycle = page.locator('#job-lifecycle');
    await expect(lifecycle.textContent()).resolves.toContain(liveCreate.videoId);
    const steps = await lifecycle.locator('.timeline li').allTextContents();
    expect(steps.some((s) => s.includes('POST /v1/videos'))).toBe(true);
    expect(steps.some((s) => s.includes('GET /v1/videos/:id → 200'))).toBe(true);
    expect(steps.some((s) => s.includes('Ledger: capture $0.40'))).toBe(true);
    expect(steps.some((s) => s.includes('Settled as'))).toBe(true);
    await expect(page.locator('#request-rows').textContent()).resolves.toContain(liveCreate.requestId);
    await shot('request-lookup');
  });

  it('downloads the usage export as CSV', async () => {
    await page.goto(ui('/jobs'));
    await shot('jobs');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    expect(download.suggestedFilename()).toMatch(/^reelay-usage-start-to-now\.csv$/);
    const text = readFileSync((await download.path())!, 'utf8');
    const lines = text.split('\r\n').filter(Boolean);
    expect(lines[0]).toMatch(/^video_id,job_id,key_id,key_name,/);
    expect(lines.length - 1).toBe(jobCount);
    expect(text).toContain(liveCreate.videoId);
  });

  it('lists the ledger and shows upstream health per model, flagging the degraded one', async () => {
    await page.goto(ui('/ledger'));
    await expect(page.locator('#ledger-table tbody tr').count()).resolves.toBeGreaterThan(10);
    await shot('ledger');

    await page.goto(ui('/health'));
    const pro = page.locator('section.model-health[data-model="sora-2-pro"]');
    await expect(pro.locator('h2').textContent()).resolves.toContain('degraded');
    await expect(page.locator('section.model-health[data-model="sora-2"] h2').textContent()).resolves.toContain('healthy');
    await expect(pro.locator('svg.chart').count()).resolves.toBe(2);
    await shot('health');
  });

  it('refuses a POST without the CSRF token, or from another origin', async () => {
    const keyId = (await reelay.deps.store.listKeys({ limit: 1 }))[0]!.id;
    const before = (await reelay.deps.store.getKey(keyId))!.balanceMicros;
    await page.goto(ui(`/keys/${keyId}`));
    const csrf = (await page.locator('#top-up input[name=_csrf]').getAttribute('value'))!;

    const noToken = await page.request.post(ui(`/keys/${keyId}/credit`), { form: { amount_usd: '1.00' }, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    const wrongToken = await page.request.post(ui(`/keys/${keyId}/credit`), { form: { amount_usd: '1.00', _csrf: 'x'.repeat(43) }, maxRedirects: 0 });
    expect(wrongToken.status()).toBe(403);
    const foreign = await page.request.post(ui(`/keys/${keyId}/credit`), { form: { amount_usd: '1.00', _csrf: csrf }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    expect(foreign.status()).toBe(403);
    expect((await reelay.deps.store.getKey(keyId))!.balanceMicros).toBe(before);

    // the same request from this origin with the token goes through
    const ok = await page.request.post(ui(`/keys/${keyId}/credit`), { form: { amount_usd: '1.00', _csrf: csrf }, headers: { origin: reelay.url }, maxRedirects: 0 });
    expect(ok.status()).toBe(303);
    expect((await reelay.deps.store.getKey(keyId))!.balanceMicros).toBe(before + 1_000_000);
  });

  it('changes limits and revokes a key: it answers 401 from then on', async () => {
    await page.goto(ui(`/keys/${createdKey.id}`));
    await page.fill('#limits input[name=allowed_models]', 'sora-2, sora-2-pro');
    await page.fill('#limits input[name=max_inflight_jobs]', '3');
    await page.fill('#limits input[name=rpm_limit]', '');
    await Promise.all([page.waitForLoadState('load'), page.click('#limits button[type=submit]')]);
    expect(await reelay.deps.store.getKey(createdKey.id)).toMatchObject({ allowedModels: ['sora-2', 'sora-2-pro'], maxInflightJobs: 3, rpmLimit: null });

    await page.click('details.danger summary');
    await Promise.all([page.waitForLoadState('load'), page.click('details.danger button')]);
    await expect(page.locator('h1 .badge').textContent()).resolves.toBe('revoked');
    const res = await fetch(`${reelay.url}/v1/videos`, { headers: { authorization: `Bearer ${createdKey.secret}` } });
    expect(res.status).toBe(401);
    const actions = (await reelay.deps.store.listAudit({ limit: 50 }))
      .filter((a) => a.targetId === createdKey.id)
      .map((a) => [a.action, a.actor]);
    expect(actions).toEqual(expect.arrayContaining([['key.update', 'admin-ui'], ['key.revoke', 'admin-ui'], ['key.credit', 'admin-ui']]));
  });

  it('logs out: the session is gone and pages redirect to the login', async () => {
    await page.goto(ui());
    await Promise.all([page.waitForURL(/\/login$/), page.click('header form button')]);
    await page.goto(ui('/keys'));
    expect(new URL(page.url()).pathname).toBe('/admin/ui/login');
  });
});

describe('admin dashboard without ADMIN_TOKEN', () => {
  it('says the admin API is disabled and offers no login', async () => {
    const database = openMigratedDatabase(':memory:');
    const deps = buildDeps(loadConfig({ DATABASE_URL: ':memory:', UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1' }), { database, logger: silentLogger() });
    const app = createApp(deps);
    const res = await app.request('/admin/ui/login');
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).toContain('The admin API is disabled');
    expect(text).not.toContain('name="token"');
    const post = await app.request('/admin/ui/login', { method: 'POST', body: 'token=anything', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(post.status).toBe(403);
    expect((await app.request('/admin/ui/')).status).toBe(303);
    database.close();
  });
});
