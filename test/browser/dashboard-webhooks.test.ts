import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { newId } from '../../src/ids.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { Store } from '../../src/db/store.js';
import type { WebhookDelivery } from '../../src/store/store.js';
import { startWebhookReceiver, headersOf } from '../helpers/webhook-receiver.js';
import { browserTests } from './chromium.js';
import { checkPage, WIDE } from './page-checks.js';
import { until } from '../helpers/until.js';

/**
 * A key's webhooks on the dashboard in headless Chromium: set the URL (the signing secret shown
 * once), rotate it (the new one shown once, both signing during the overlap), the key's deliveries
 * with their attempts, redeliver, remove; every form CSRF-protected and audited. Events reach a
 * local endpoint and are verified with the openai SDK, using the secrets the pages showed.
 */
// Without Chromium this file fails with a message saying how to install it (never a silent
// skip); only SKIP_BROWSER_TESTS=1 skips the browser tests, on purpose.
const BROWSER = browserTests(process.env);
const CHROMIUM = BROWSER.run ? BROWSER.chromium : '';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const ADMIN_TOKEN = 'dashboard-webhooks-admin-token-01';
// A loaded 2-core machine: a page load plus a delivery can take a few seconds.
vi.setConfig({ testTimeout: 120_000 });

const sdk = new OpenAI({ apiKey: 'unused' });
let reelay: RunningReelay;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let browser: Browser;
let page: Page;
let dir: string;
let keyId: string;
let firstSecret: string;
let rotatedSecret: string;
const ui = (path = '') => `${reelay.url}/admin/ui${path}`;

/** A job of the key held, submitted and settled through the store: the settlement writes its event. */
async function settledJob(store: Store, key: string, fail = false): Promise<string> {
  const id = newId('job');
  const now = Date.now();
  const who = { actor: `key:${key}`, requestId: `req_${id}`, now };
  const hold = await store.placeHold(
    { id, keyId: key, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: 4, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: 400_000, requestId: who.requestId },
    who,
    { maxInflightJobs: null },
  );
  if (!hold.ok) throw new Error(`hold refused: ${hold.reason}`);
  await store.recordSubmitted(id, { videoId: `video_${id}`, status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt: now + 1000 }, now);
  const outcome = fail ? ({ kind: 'failed', finalObject: null, errorCode: 'server_error' } as const) : ({ kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: now } as const);
  await store.settleJob(id, outcome, { actor: 'system', requestId: null, now });
  return `video_${id}`;
}

const deliveryOf = async (videoId: string): Promise<WebhookDelivery | undefined> =>
  (await reelay.deps.store.listWebhookDeliveries({ keyId, limit: 100 })).find((d) => d.event.videoId === videoId);

/** Submits a form on the page and waits for the page it leads to (post, redirect, get). */
async function submit(selector: string) {
  await Promise.all([page.waitForEvent('framenavigated'), page.click(selector)]);
  await page.waitForLoadState('load');
}

describe.runIf(BROWSER.run)('a key’s webhooks on the dashboard', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reelay-dash-webhooks-'));
    receiver = await startWebhookReceiver((_req, res) => res.writeHead(500).end('not yet'));
    reelay = await startReelay(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'reelay.db'), UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', ADMIN_TOKEN, WEBHOOK_ALLOW_PRIVATE: '1' }),
      // A failed attempt is retried in an hour: the page shows it pending until Redeliver is pressed.
      { reconciler: false, logger: silentLogger(), webhooks: { schedule: [3600_000, 3600_000], intervalMs: 100 } },
    );
    const k = (await createKey(reelay.deps.store, { name: 'hooks-acme' }, Date.now())).key;
    keyId = k.id;
    await reelay.deps.store.appendCredit(keyId, 50_000_000, 'seed', { actor: 'test', requestId: null, now: Date.now() });
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
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a URL that is not http(s), then sets one and shows its signing secret exactly once', async () => {
    await page.goto(ui(`/keys/${keyId}`));
    await expect(page.locator('#webhook-none').count()).resolves.toBe(1);
    await expect(page.locator('#key-deliveries tbody').textContent()).resolves.toContain('No webhook events for this key.');
    await checkPage(page, 'webhooks-key-none');

    await page.fill('#webhook-url-input', 'ftp://127.0.0.1/hooks');
    await submit('#webhooks form[action$="/webhook"] button[type=submit]');
    await expect(page.locator('.flash.error').textContent()).resolves.toContain('webhook_url must be an http or https URL');
    expect((await reelay.deps.store.getKey(keyId))!.webhookUrl).toBeNull();

    await page.fill('#webhook-url-input', receiver.url);
    await submit('#webhooks form[action$="/webhook"] button[type=submit]');
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('Webhook URL set');
    firstSecret = (await page.locator('#webhook-secret-value').textContent())!.trim();
    expect(firstSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await expect(page.locator('#webhook-url').textContent()).resolves.toBe(receiver.url);
    await expect(page.locator('#webhook-secrets').textContent()).resolves.toContain('1 (the current one)');
    await expect(page.locator('#new-secret').count(), 'not the key secret box').resolves.toBe(0);
    await checkPage(page, 'webhooks-secret-once');

    // Gone on the next view, and never in the page again.
    await page.reload();
    await expect(page.locator('#new-webhook-secret').count()).resolves.toBe(0);
    expect(await page.content()).not.toContain(firstSecret);

    // Changing the URL keeps the secret: nothing is revealed.
    await page.fill('#webhook-url-input', `${receiver.url}?v=2`);
    await submit('#webhooks form[action$="/webhook"] button[type=submit]');
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('signing secret stays the same');
    await expect(page.locator('#new-webhook-secret').count()).resolves.toBe(0);
    expect(await reelay.deps.store.webhookTarget(keyId, Date.now())).toEqual({ url: `${receiver.url}?v=2`, secrets: [firstSecret] });
  });

  it('shows deliveries with their attempts, rotates the secret (shown once; both sign) and redelivers', async () => {
    const video = await settledJob(reelay.deps.store, keyId);
    const pending = await until('a pending delivery', async () => {
      const d = await deliveryOf(video);
      return d && d.attempts.length === 1 ? d : undefined;
    }, 30_000);
    expect(pending.event.status).toBe('pending');
    // The first attempt (answered 500) verifies with the secret the page showed.
    const first = receiver.received.find((r) => JSON.parse(r.body).data.id === video)!;
    await expect(sdk.webhooks.unwrap(first.body, headersOf(first), firstSecret)).resolves.toMatchObject({ type: 'video.completed', data: { id: video } });

    // An endpoint that does not answer at all: the attempt's error is shown.
    receiver.respond((_req, res) => res.socket?.destroy());
    const failedVideo = await settledJob(reelay.deps.store, keyId, true);
    await until('the first attempt', async () => ((await deliveryOf(failedVideo))?.attempts.length === 1 ? true : undefined), 30_000);

    await page.goto(ui(`/keys/${keyId}`));
    const row = page.locator(`#key-deliveries tr[data-event="${pending.event.id}"]`);
    const rowText = (await row.textContent())!;
    expect(rowText).toContain('pending');
    expect(rowText).toContain('video.completed');
    expect(rowText).toContain('next ');
    expect(rowText).toContain('HTTP 500');
    expect(rowText).toMatch(/\d+ ms/);
    const hangup = (await page.locator(`#key-deliveries tr[data-event="${(await deliveryOf(failedVideo))!.event.id}"]`).textContent())!;
    expect(hangup).toContain('video.failed');
    expect(hangup).toContain('no answer');
    expect((await deliveryOf(failedVideo))!.attempts[0]!.error).toBeTruthy();
    expect(hangup).toContain((await deliveryOf(failedVideo))!.attempts[0]!.error!);

    // Rotation: the new secret once, the previous one still signing.
    await submit('#rotate-webhook-secret');
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('previous one keeps signing until');
    rotatedSecret = (await page.locator('#webhook-secret-value').textContent())!.trim();
    expect(rotatedSecret).toMatch(/^whsec_/);
    expect(rotatedSecret).not.toBe(firstSecret);
    await expect(page.locator('#webhook-secrets').textContent()).resolves.toContain('2: the current one and the previous one');
    await checkPage(page, 'webhooks-key-deliveries');
    await page.reload();
    expect(await page.content()).not.toContain(rotatedSecret);

    // Redeliver: same webhook-id and body, now answered 200; both secrets verify it.
    receiver.respond((_req, res) => res.writeHead(204).end());
    const before = receiver.received.length;
    await submit(`#key-deliveries tr[data-event="${pending.event.id}"] button[type=submit]`);
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain(`Event ${pending.event.id} queued`);
    expect(page.url()).toContain(`/keys/${keyId}`);
    const delivered = await until('the delivery', async () => {
      const d = await deliveryOf(video);
      return d?.event.status === 'delivered' ? d : undefined;
    }, 30_000);
    expect(delivered.attempts.map((a) => a.statusCode)).toEqual([500, 204]);
    const again = receiver.received.slice(before).find((r) => JSON.parse(r.body).data.id === video)!;
    expect(again.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(again.body).toBe(first.body);
    for (const secret of [firstSecret, rotatedSecret]) await sdk.webhooks.unwrap(again.body, headersOf(again), secret);

    await page.reload();
    const done = (await page.locator(`#key-deliveries tr[data-event="${pending.event.id}"]`).textContent())!;
    expect(done).toContain('delivered');
    expect(done).toContain('HTTP 204');

    const trail = await reelay.deps.store.searchAudit({ limit: 20 });
    const ours = trail.filter((a) => a.targetId === keyId || a.targetId === pending.event.id).map((a) => [a.action, a.actor]);
    expect(ours).toEqual([
      ['webhook.redeliver', 'admin-ui'],
      ['key.webhook_secret.rotate', 'admin-ui'],
      ['key.update', 'admin-ui'],
      ['key.update', 'admin-ui'],
    ]);
    expect(JSON.stringify(trail)).not.toContain('whsec_');
  });

  it('lists all of the key’s deliveries by status on their own page, redelivering from there', async () => {
    await page.goto(ui(`/keys/${keyId}`));
    await Promise.all([page.waitForURL(/\/webhooks$/), page.click('#webhooks h3 a')]);
    await expect(page.locator('#deliveries tbody tr').count()).resolves.toBe(2);
    await checkPage(page, 'webhooks-deliveries');

    await page.selectOption('select[name=status]', 'pending');
    await Promise.all([page.waitForURL(/status=pending/), page.click('form.filters button[type=submit]')]);
    const rows = page.locator('#deliveries tbody tr');
    await expect(rows.count()).resolves.toBe(1);
    await expect(rows.first().textContent()).resolves.toContain('video.failed');

    const eventId = (await rows.first().getAttribute('data-event'))!;
    await submit(`#deliveries tr[data-event="${eventId}"] button[type=submit]`);
    expect(page.url()).toMatch(/\/webhooks$/);
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('queued');
    await until('redelivery', async () => ((await reelay.deps.store.getWebhookEvent(eventId))?.status === 'delivered' ? true : undefined), 30_000);

    await page.goto(ui(`/keys/${keyId}/webhooks?status=failed`));
    await expect(page.locator('#deliveries tbody').textContent()).resolves.toContain('No failed events.');
  });

  it('refuses the forms without the CSRF token or from another origin, and a redeliver of another key’s event', async () => {
    await page.goto(ui(`/keys/${keyId}`));
    const csrf = (await page.locator('#webhooks input[name=_csrf]').first().getAttribute('value'))!;
    const eventId = (await reelay.deps.store.listWebhookDeliveries({ keyId, limit: 1 }))[0]!.event.id;
    const attempts = (await reelay.deps.store.getWebhookDelivery(eventId))!.attempts.length;
    const redeliver = ui(`/keys/${keyId}/webhooks/${eventId}/redeliver`);
    const noToken = await page.request.post(redeliver, { form: {}, maxRedirects: 0 });
    const foreign = await page.request.post(redeliver, { form: { _csrf: csrf }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    const rotate = await page.request.post(ui(`/keys/${keyId}/webhook-secret`), { form: { _csrf: 'x'.repeat(43) }, maxRedirects: 0 });
    const setUrl = await page.request.post(ui(`/keys/${keyId}/webhook`), { form: { webhook_url: 'http://127.0.0.1:1/evil' }, maxRedirects: 0 });
    expect([noToken.status(), foreign.status(), rotate.status(), setUrl.status()]).toEqual([403, 403, 403, 403]);

    const other = (await createKey(reelay.deps.store, { name: 'other' }, Date.now())).key;
    const crossKey = await page.request.post(ui(`/keys/${other.id}/webhooks/${eventId}/redeliver`), { form: { _csrf: csrf }, headers: { origin: reelay.url }, maxRedirects: 0 });
    expect(crossKey.status()).toBe(404);

    await new Promise((r) => setTimeout(r, 300));
    expect((await reelay.deps.store.getWebhookDelivery(eventId))!.attempts.length, 'nothing resent').toBe(attempts);
    expect((await reelay.deps.store.webhookTarget(keyId, Date.now())).secrets).toEqual([rotatedSecret, firstSecret]);
    expect((await reelay.deps.store.getKey(keyId))!.webhookUrl).toBe(`${receiver.url}?v=2`);
  });

  it('removes the endpoint: no URL, no secrets, rotation refused; the recorded events stay', async () => {
    await page.goto(ui(`/keys/${keyId}`));
    await page.click('#webhooks details.danger summary');
    await submit('#webhooks details.danger button[type=submit]');
    await expect(page.locator('.flash.ok').textContent()).resolves.toContain('Webhook endpoint removed');
    await expect(page.locator('#webhook-none').count()).resolves.toBe(1);
    await expect(page.locator('#rotate-webhook-secret').count()).resolves.toBe(0);
    await expect(page.locator('#key-deliveries tbody tr').count()).resolves.toBe(2);
    expect(await reelay.deps.store.webhookTarget(keyId, Date.now())).toEqual({ url: null, secrets: [] });

    const csrf = (await page.locator('#webhooks input[name=_csrf]').first().getAttribute('value'))!;
    const rotate = await page.request.post(ui(`/keys/${keyId}/webhook-secret`), { form: { _csrf: csrf }, headers: { origin: reelay.url } });
    expect(rotate.status()).toBe(200);
    expect(await rotate.text()).toContain('no webhook_url');
    const [last] = await reelay.deps.store.searchAudit({ targetId: keyId, limit: 1 });
    expect(last).toMatchObject({ action: 'key.update', actor: 'admin-ui' });
    expect(JSON.parse(last!.details!)).toEqual({ webhook_url: null });
  });
});
