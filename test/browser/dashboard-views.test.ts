import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { browserTests } from './chromium.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { newId } from '../../src/ids.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { Store } from '../../src/db/store.js';
import { checkPage, overlappingLabels, NARROW, WIDE } from './page-checks.js';

/**
 * The dashboard's operator views in headless Chromium: names instead of ids, the usage, audit and
 * pricing pages, keys search/sort/paging, date presets and invalid ranges, low-balance flags, the
 * signed ledger with its running balance, and the 90-day chart. Every page passes checkPage.
 */
// Without Chromium this file fails with a message saying how to install it (never a silent
// skip); only SKIP_BROWSER_TESTS=1 skips the browser tests, on purpose.
const BROWSER = browserTests(process.env);
const CHROMIUM = BROWSER.run ? BROWSER.chromium : '';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const ADMIN_TOKEN = 'dashboard-views-admin-token-0123';
const DAY = 86_400_000;
const BULK = 52; // more keys than one page of the keys list (50) holds


let reelay: RunningReelay;
let browser: Browser;
let page: Page;
let dir: string;
let acme: string;
let studio: string;
let lowKey: string;
const today = Math.floor(Date.now() / DAY) * DAY;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const ui = (path = '') => `${reelay.url}/admin/ui${path}`;
/** spend per key, in micro-USD */
const spent = new Map<string, number>();

/** A job held by the key's own request (actor key:…) and settled by the system, at a given time. */
async function seedJob(store: Store, keyId: string, at: number, o: { kind?: 'create' | 'remix'; seconds: number; rate: number; fail?: boolean; open?: boolean }) {
  const id = newId('job');
  const who = { actor: `key:${keyId}`, requestId: `req_${id}`, now: at };
  const held = o.seconds * o.rate;
  const hold = await store.placeHold(
    { id, keyId, kind: o.kind ?? 'create', model: 'sora-2', size: '720x1280', requestedSeconds: o.seconds, sourceVideoId: o.kind === 'remix' ? 'video_src' : null, rateMicros: o.rate, flatPriceMicros: null, heldMicros: held, requestId: who.requestId },
    who,
    { maxInflightJobs: null },
  );
  if (!hold.ok) throw new Error(`hold refused: ${hold.reason}`);
  await store.recordSubmitted(id, { videoId: `video_${id}`, status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt: at + 1000 }, at);
  if (o.open) return;
  const outcome = o.fail ? ({ kind: 'failed', finalObject: null, errorCode: 'server_error' } as const) : ({ kind: 'completed', billedSeconds: o.seconds, finalObject: '{}', completedAt: at + 60_000 } as const);
  await store.settleJob(id, outcome, { actor: 'system', requestId: null, now: at + 60_000 });
  if (!o.fail) spent.set(keyId, (spent.get(keyId) ?? 0) + held);
}

async function seed(store: Store) {
  const at = today - 100 * DAY;
  const make = async (name: string, usd: number) => {
    const k = (await createKey(store, { name }, at)).key;
    await store.appendCredit(k.id, usd * 1_000_000, 'opening credit', { actor: 'admin', requestId: null, now: at });
    await store.appendAudit({ actor: 'admin', action: 'key.create', targetId: k.id, requestId: `req_audit_${k.id}`, details: { name }, now: at });
    return k.id;
  };
  acme = await make('acme-production', 500);
  studio = await make('studio-nightly', 100);
  lowKey = await make('nearly-empty', 1);
  for (let i = 0; i < BULK; i++) await make(`bulk-${String(i).padStart(2, '0')}`, 50);
  // 90 days of acme traffic, so the 90-day chart has a bar every day
  for (let d = 89; d >= 0; d--) await seedJob(store, acme, today - d * DAY + 9 * 3600_000, { seconds: 4, rate: 100_000 });
  await seedJob(store, acme, today - 2 * DAY + 10 * 3600_000, { kind: 'remix', seconds: 8, rate: 100_000 });
  await seedJob(store, acme, today - DAY + 10 * 3600_000, { seconds: 4, rate: 100_000, fail: true });
  await seedJob(store, studio, today - 3 * DAY + 9 * 3600_000, { seconds: 8, rate: 300_000 });
  await seedJob(store, studio, today - 1 * DAY + 9 * 3600_000, { seconds: 4, rate: 300_000, open: true });
  await store.appendCredit(acme, -2_000_000, 'goodwill correction', { actor: 'admin-ui', requestId: null, now: today - 5 * DAY });
}

/** A page loaded and submitted forms settled. */
async function go(path: string) {
  await page.goto(ui(path));
}

describe.runIf(BROWSER.run)('the dashboard’s operator views in a browser', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reelay-views-'));
    reelay = await startReelay(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', ADMIN_TOKEN, LOW_BALANCE_USD: '5.00' }),
      { reconciler: false, logger: silentLogger() },
    );
    await seed(reelay.deps.store);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ acceptDownloads: true, viewport: WIDE });
    page = await context.newPage();
    await go('/login');
    await page.fill('input[name=token]', ADMIN_TOKEN);
    await Promise.all([page.waitForURL(/\/admin\/ui$/), page.click('button[type=submit]')]);
  });

  afterAll(async () => {
    await browser?.close();
    await reelay?.close(1000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('flags low balances on the overview, counts balances of active keys only, and serves a favicon', async () => {
    await reelay.deps.store.revokeKey((await reelay.deps.store.searchKeys({ q: 'bulk-51', sort: 'name', dir: 'asc', offset: 0, limit: 1 })).rows[0]!.id, Date.now());
    await go('');
    await expect(page.locator('#low-count').textContent()).resolves.toBe('1');
    await expect(page.locator('#low-keys').textContent()).resolves.toContain('nearly-empty');
    await expect(page.locator('#low-keys').textContent()).resolves.not.toContain('acme-production');
    // 54 active keys of 55: the revoked key's $50 is not counted
    const hint = (await page.locator('#active-balances').textContent())!;
    expect(hint).toContain('of 55 keys; the active keys hold');
    const store = reelay.deps.store;
    const active = (await store.searchKeys({ sort: 'name', dir: 'asc', offset: 0, limit: 1000 })).rows.filter((k) => k.revokedAt === null);
    const sum = active.reduce((a, k) => a + k.balanceMicros, 0);
    expect(hint).toContain(`$${(sum / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2 })}`);

    await expect(page.locator('link[rel=icon]').getAttribute('href')).resolves.toBe('/admin/ui/favicon.svg');
    const icon = await page.request.get(ui('/favicon.svg'));
    expect(icon.headers()['content-type']).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
    await checkPage(page, 'views-overview');
  });

  it('thins the x labels of a 90-day chart so that none overlap, at 1366 and 420 px', async () => {
    await go('?days=90');
    await expect(page.locator('#spend-chart rect.bar').count()).resolves.toBe(90);
    for (const size of [WIDE, NARROW]) {
      await page.setViewportSize(size);
      const { labels, overlaps } = await overlappingLabels(page, '#spend-chart');
      expect(labels).toBeGreaterThan(6);
      expect(overlaps, `at ${size.width} px`).toEqual([]);
    }
    // the latest day is always named
    await expect(page.locator('#spend-chart text.x-label').last().textContent()).resolves.toBe(iso(today).slice(5));
    await checkPage(page, 'views-overview-90-days');
  });

  it('shows key names (ids on hover), the job kind, and key pickers instead of id boxes', async () => {
    await go('/jobs');
    const first = page.locator('#jobs-table tbody tr').first();
    await expect(page.locator('#jobs-table thead').textContent()).resolves.toContain('Kind');
    await expect(page.locator('#jobs-table a.keyname', { hasText: 'acme-production' }).first().getAttribute('title')).resolves.toBe(acme);
    await expect(page.locator('#jobs-table .kind-remix').count()).resolves.toBe(1);
    await expect(first.locator('.kind').textContent()).resolves.toMatch(/^(create|remix)$/);
    await expect(page.locator('input[name=key_id]').count()).resolves.toBe(0);

    await page.selectOption('select[name=key_id]', { label: 'studio-nightly' });
    await Promise.all([page.waitForURL(/key_id=/), page.click('form.filters button[type=submit]')]);
    const keys = await page.locator('#jobs-table tbody a.keyname').allTextContents();
    expect(keys.length).toBe(2);
    expect(new Set(keys)).toEqual(new Set(['studio-nightly']));
    await checkPage(page, 'views-jobs-by-key');

    for (const path of ['/ledger', '/audit', '/usage']) {
      await go(path);
      await expect(page.locator('select[name=key_id] option', { hasText: 'acme-production' }).count(), path).resolves.toBe(1);
      await expect(page.locator('input[name=key_id]').count(), path).resolves.toBe(0);
    }
  });

  it('signs ledger amounts by direction and shows a running balance that ends at the key’s balance', async () => {
    await go(`/keys/${acme}`);
    const key = (await reelay.deps.store.getKey(acme))!;
    const rows = page.locator('#key-ledger tbody tr');
    await expect(rows.first().locator('[data-balance-after]').getAttribute('data-balance-after')).resolves.toBe(String(key.balanceMicros));
    await expect(rows.first().locator('[data-available-after]').getAttribute('data-available-after')).resolves.toBe(String(key.balanceMicros - key.heldMicros));
    const data = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({
        kind: tr.getAttribute('data-kind')!,
        db: Number(tr.querySelector('[data-balance-delta]')!.getAttribute('data-balance-delta')),
        da: Number(tr.querySelector('[data-available-delta]')!.getAttribute('data-available-delta')),
        b: Number(tr.querySelector('[data-balance-after]')!.getAttribute('data-balance-after')),
        a: Number(tr.querySelector('[data-available-after]')!.getAttribute('data-available-after')),
      })),
    );
    expect(data.length).toBe(15);
    // each row's "after" is the older row's "after" plus this row's movement
    for (let i = 0; i + 1 < data.length; i++) {
      expect(data[i]!.b).toBe(data[i + 1]!.b + data[i]!.db);
      expect(data[i]!.a).toBe(data[i + 1]!.a + data[i]!.da);
    }
    const sign = (kind: string) => data.find((d) => d.kind === kind)!;
    // newest first, by the order they were written: the adjustment, the failed job (4 s), the remix (8 s)
    expect(sign('adjustment')).toMatchObject({ db: -2_000_000, da: -2_000_000 });
    expect(sign('hold')).toMatchObject({ db: 0, da: -400_000 });
    expect(sign('capture')).toMatchObject({ db: -800_000, da: 0 });
    expect(sign('release').db).toBe(0);
    expect(sign('release').da).toBeGreaterThan(0);
    await expect(rows.first().locator('td').nth(2).textContent()).resolves.toMatch(/^[−+·]/);
    // a key's own request is shown by the key's name
    await expect(page.locator('#key-ledger tbody tr[data-kind=hold]').first().textContent()).resolves.toContain('key acme-production');
    await expect(page.locator('#key-jobs thead').textContent()).resolves.toContain('Kind');
    await checkPage(page, 'views-key');

    // the ledger page shows the running balance for one key, and the older page continues it
    await go(`/ledger?key_id=${acme}`);
    await expect(page.locator('#ledger-table tbody tr').first().locator('[data-balance-after]').getAttribute('data-balance-after')).resolves.toBe(String(key.balanceMicros));
    const lastAfter = await page.locator('#ledger-table tbody tr').last().locator('[data-balance-after]').getAttribute('data-balance-after');
    const lastDelta = await page.locator('#ledger-table tbody tr').last().locator('[data-balance-delta]').getAttribute('data-balance-delta');
    await Promise.all([page.waitForURL(/before=/), page.click('text=Older →')]);
    await expect(page.locator('#ledger-table tbody tr').first().locator('[data-balance-after]').getAttribute('data-balance-after')).resolves.toBe(String(Number(lastAfter) - Number(lastDelta)));
    await checkPage(page, 'views-ledger-by-key');
  });

  it('draws a key’s spend over time for a preset range', async () => {
    await go(`/keys/${studio}`);
    await Promise.all([page.waitForURL(/from=/), page.click('#key-spend a[data-preset="7d"]')]);
    await expect(page.locator('#key-spend input[name=from]').inputValue()).resolves.toBe(iso(today - 6 * DAY));
    await expect(page.locator('#key-spend-chart rect.bar').count()).resolves.toBe(7);
    await expect(page.locator(`#key-spend-chart rect.bar[data-day="${iso(today - 3 * DAY)}"]`).getAttribute('data-value')).resolves.toBe('2400000');
    await expect(page.locator('#key-spend-total').textContent()).resolves.toBe('$2.40');
  });

  it('explains same-day, inverted and malformed ranges instead of showing an empty table', async () => {
    const d = iso(today);
    await go(`/jobs?from=${d}&to=${d}`);
    const msg = page.locator('#range-error');
    await expect(msg.textContent()).resolves.toContain(`From and Before are both ${d}. Before is exclusive`);
    await expect(msg.textContent()).resolves.toContain(iso(today + DAY));
    await expect(page.locator('#jobs-table tbody').textContent()).resolves.toContain('see the date range message above');
    await checkPage(page, 'views-jobs-same-day');
    await go(`/ledger?from=${d}&to=${iso(today - 3 * DAY)}`);
    await expect(page.locator('#range-error').textContent()).resolves.toContain('is earlier than From');
    await go('/audit?from=2026-02-30');
    await expect(page.locator('#range-error').textContent()).resolves.toContain('not a date (YYYY-MM-DD)');

    // presets fill in ISO dates and keep the other filters
    await go(`/jobs?key_id=${acme}`);
    await Promise.all([page.waitForURL(/from=/), page.click('a[data-preset="today"]')]);
    const url = new URL(page.url());
    expect(url.searchParams.get('key_id')).toBe(acme);
    expect([url.searchParams.get('from'), url.searchParams.get('to')]).toEqual([iso(today), iso(today + DAY)]);
    await expect(page.locator('#range-error').count()).resolves.toBe(0);
    await expect(page.locator('#jobs-table tbody tr').count()).resolves.toBe(1);
    await expect(page.locator('a[data-preset="today"]').getAttribute('aria-current')).resolves.toBe('true');
    const month = new Date(today);
    await go('/jobs');
    await expect(page.locator('a[data-preset="month"]').getAttribute('href')).resolves.toContain(`from=${iso(Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1))}`);
  });

  it('searches, sorts and pages the keys, flagging the low ones', async () => {
    await go('/keys');
    await expect(page.locator('#keys-count').textContent()).resolves.toContain(`${BULK + 3} keys · page 1 of 2`);
    await expect(page.locator('#keys-table tbody tr').count()).resolves.toBe(50);
    await Promise.all([page.waitForURL(/page=2/), page.click('a[rel=next]')]);
    await expect(page.locator('#keys-table tbody tr').count()).resolves.toBe(BULK + 3 - 50);

    await go('/keys');
    await page.fill('input[name=q]', 'acme');
    await Promise.all([page.waitForURL(/q=acme/), page.click('form[role=search] button')]);
    await expect(page.locator('#keys-table tbody tr').count()).resolves.toBe(1);
    await page.fill('input[name=q]', acme.slice(0, -1));
    await Promise.all([page.waitForURL(/q=key_/), page.click('form[role=search] button')]);
    await expect(page.locator(`#keys-table tr[data-key="${acme}"]`).count()).resolves.toBe(1);

    await go('/keys?sort=available&dir=asc');
    const firstRow = page.locator('#keys-table tbody tr').first();
    await expect(firstRow.getAttribute('data-key')).resolves.toBe(lowKey);
    await expect(firstRow.getAttribute('class')).resolves.toBe('low');
    await expect(firstRow.textContent()).resolves.toContain('low');
    await Promise.all([page.waitForURL(/dir=desc/), page.click('th a[data-sort="available"]')]); // flips to descending
    await expect(page.locator('#keys-table tbody tr').first().getAttribute('data-key')).resolves.toBe(acme);
    await go('/keys?sort=name&dir=asc');
    const names = await page.locator('#keys-table tbody tr td:first-child a').allTextContents();
    expect(names).toEqual([...names].sort());
    await go('/keys?low=1');
    await expect(page.locator('#keys-table tbody tr').count()).resolves.toBe(1);
    await checkPage(page, 'views-keys-low');
  });

  it('summarises usage by key, model and day, with a chart and a CSV', async () => {
    const from = iso(today - 99 * DAY);
    const to = iso(today + DAY);
    await go(`/usage?group_by=key&from=${from}&to=${to}`);
    const acmeRow = page.locator('#usage-table tbody tr', { hasText: 'acme-production' });
    await expect(acmeRow.locator('td').last().textContent()).resolves.toBe(`$${(spent.get(acme)! / 1e6).toFixed(2)}`);
    await expect(page.locator('#usage-chart rect.bar').count()).resolves.toBe(2);
    await checkPage(page, 'views-usage-by-key');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#usage-csv')]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('key,key_name,jobs,charged_jobs,billed_seconds,amount_usd');
    expect(lines).toContain(`${acme},acme-production,92,91,${91 * 4 + 4},${(spent.get(acme)! / 1e6).toFixed(6)}`);
    expect(lines[lines.length - 1]).toMatch(/^total,,94,/);

    await go(`/usage?group_by=day&from=${iso(today - 89 * DAY)}&to=${to}`);
    await expect(page.locator('#usage-chart rect.bar').count()).resolves.toBe(90);
    expect((await overlappingLabels(page, '#usage-chart')).overlaps).toEqual([]);
    await checkPage(page, 'views-usage-by-day');
    await go('/usage?group_by=model');
    await expect(page.locator('#usage-table tbody').textContent()).resolves.toContain('sora-2');
    await expect(page.locator('input[name=from]').inputValue()).resolves.toBe(iso(today - 29 * DAY));
  });

  it('shows the audit trail with actors and targets by name, filterable by key and action', async () => {
    await go('/audit');
    await expect(page.locator('#audit-table tbody tr').count()).resolves.toBe(50);
    await expect(page.locator('#audit-table tbody').textContent()).resolves.toContain('admin API');
    await page.selectOption('select[name=key_id]', { label: 'nearly-empty' });
    await page.selectOption('select[name=action]', 'key.create');
    await Promise.all([page.waitForURL(/action=key.create/), page.click('form.filters button[type=submit]')]);
    const rows = page.locator('#audit-table tbody tr');
    await expect(rows.count()).resolves.toBe(1);
    await expect(rows.first().textContent()).resolves.toContain('nearly-empty');
    await expect(rows.first().textContent()).resolves.toContain('{"name":"nearly-empty"}');
    await checkPage(page, 'views-audit');
  });

  it('shows the effective price catalog', async () => {
    await go('/pricing');
    const catalog = reelay.deps.catalog;
    for (const model of catalog.keys()) await expect(page.locator(`#pricing-table tr[data-model="${model}"]`).count(), model).resolves.toBeGreaterThan(0);
    const sora = catalog.get('sora-2')!;
    const [size, micros] = Object.entries(sora.perSecondMicros!)[0]!;
    await expect(page.locator('#pricing-table tr[data-model="sora-2"]', { hasText: size }).textContent()).resolves.toContain(`$${(micros / 1e6).toFixed(2)} / s`);
    await checkPage(page, 'views-pricing');
  });

  it('can be used from the keyboard: a skip link first, then a visible focus ring', async () => {
    await go('/keys');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
    await page.keyboard.press('Enter');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('main');
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!);
      return { tag: document.activeElement!.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    expect(ring.style).not.toBe('none');
    expect(ring.width).toBeGreaterThanOrEqual(2);
  });
});
