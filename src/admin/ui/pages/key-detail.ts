import { html } from 'hono/html';
import type { Deps } from '../../../deps.js';
import type { KeyRow } from '../../../db/keys-store.js';
import { BASE, csrfField, keyState, page, type Html } from '../layout.js';
import { barChart } from '../chart.js';
import { DAY_MS, daysBetween, isoDay, qs, time, usd } from '../format.js';
import { keyDirectory } from '../context.js';
import type { Session } from '../session.js';
import { presetRange, rangeInputs, rangeMessage, readRange, type RangeFields } from '../range.js';
import { LEDGER_SIGNS_NOTE, ledgerTable, runningAfter, toRunning } from '../ledger-view.js';
import { jobsTable } from './jobs.js';
import { webhookSecretReveal, webhookSection } from './webhooks.js';

/** A key's page: balances, its spend over a date range, top-up, limits, revoke, webhooks, its ledger and jobs. */

/** Longest range the spend chart draws, one bar per day. */
const MAX_CHART_DAYS = 366;

async function spendSection(deps: Deps, k: KeyRow, given: RangeFields): Promise<Html> {
  const now = deps.now();
  // Without dates, the last 30 days.
  const f = given.from || given.to ? given : presetRange('30d', now);
  const action = `${BASE}/keys/${encodeURIComponent(k.id)}`;
  let range = readRange(f);
  if (!range.error && (range.from === undefined || range.to === undefined)) range = { ...range, error: 'Give both From and Before (or pick a preset) to draw the spend chart.' };
  if (!range.error && (range.to! - range.from!) / DAY_MS > MAX_CHART_DAYS) range = { ...range, error: `The spend chart draws at most ${MAX_CHART_DAYS} days: pick a shorter range.` };
  let chart: Html | string = '';
  if (!range.error) {
    const r = { from: range.from!, to: range.to! };
    const byDay = new Map((await deps.store.keySpendPerDay(k.id, r)).map((d) => [d.day, d]));
    let total = 0;
    const points = daysBetween(r.from, r.to).map((day) => {
      const d = byDay.get(day);
      total += d?.spentMicros ?? 0;
      return { label: day, value: d?.spentMicros ?? 0, title: `${day}: ${usd(d?.spentMicros ?? 0)} over ${d?.captures ?? 0} charged jobs` };
    });
    chart = html`<p class="muted">Spent <strong id="key-spend-total">${usd(total)}</strong> from ${f.from} to before ${f.to} (captured when jobs settled, per UTC day).</p>
    ${barChart(points, { ariaLabel: `Spend per day of ${k.name}`, format: (v) => usd(Math.round(v)), minStep: 10_000, id: 'key-spend-chart', width: 1000, height: 220 })}`;
  }
  return html`<section class="panel" id="key-spend"><h2>Spend over time</h2>
  <form class="filters spaced-bottom" method="get" action="${action}">${rangeInputs(action, f, {}, now)}<button type="submit">Show</button></form>
  ${rangeMessage(range)}${chart}
</section>`;
}

export async function keyDetail(deps: Deps, session: Session, k: KeyRow, f: RangeFields): Promise<Html> {
  const now = deps.now();
  const once = session.revealOnce?.keyId === k.id ? session.revealOnce : null;
  if (once !== null) session.revealOnce = null; // shown once, never again
  const reveal = once !== null && once.kind !== 'webhook' ? once.secret : null;
  const webhookReveal = once?.kind === 'webhook' ? once.secret : null;
  const ledger = await deps.store.listAdminLedger({ keyId: k.id, order: 'desc', limit: 15 });
  const running = ledger.length > 0 ? runningAfter(ledger, toRunning(await deps.store.ledgerTotalsUpTo(k.id, ledger[0]!.seq))) : undefined;
  const jobs = await deps.store.listAdminJobs({ keyId: k.id, order: 'desc', limit: 15 });
  const { names } = await keyDirectory(deps);
  const spend = await spendSection(deps, k, f);
  const webhooks = await webhookSection(deps, session, k);
  const revoked = k.revokedAt !== null;
  const available = k.balanceMicros - k.heldMicros;
  const low = !revoked && !k.disabled && (k.expiresAt === null || k.expiresAt > now) && available < deps.config.lowBalanceMicros;
  return page(
    session,
    'keys',
    k.name,
    html`<p><a href="${BASE}/keys">← All keys</a></p>
<h1>${k.name} ${keyState(k, now)}</h1>
<p class="sub mono">${k.id}</p>
${reveal !== null
  ? html`<div class="secret" id="new-secret" role="status"><strong>Copy this secret now: it will not be shown again.</strong>
  <code id="secret-value">${reveal}</code><span class="muted">reelay stores only its hash. If it is lost, revoke the key and create a new one.</span></div>`
  : ''}
${webhookReveal !== null ? webhookSecretReveal(webhookReveal) : ''}
<div class="cards">
  <div class="card"><div class="label">Balance</div><div class="value" id="balance">${usd(k.balanceMicros)}</div></div>
  <div class="card"><div class="label">Held by open jobs</div><div class="value">${usd(k.heldMicros)}</div></div>
  <div class="card${low ? ' alert' : ''}"><div class="label">Available</div><div class="value" id="available">${usd(available)}</div>${low ? html`<div class="hint"><span class="badge warn" id="low-flag">low</span> under ${usd(deps.config.lowBalanceMicros)}</div>` : ''}</div>
</div>
${spend}
<div class="grid">
  <section class="panel"><h2>Details</h2><dl class="facts">
    <dt>Prefix</dt><dd class="mono">${k.prefix}</dd>
    <dt>Created</dt><dd>${time(k.createdAt)}</dd>
    <dt>Last used</dt><dd>${time(k.lastUsedAt)}</dd>
    <dt>Expires</dt><dd>${time(k.expiresAt)}</dd>
    <dt>Revoked</dt><dd>${time(k.revokedAt)}</dd>
    <dt>Allowed models</dt><dd>${k.allowedModels?.join(', ') ?? 'all priced models'}</dd>
    <dt>Requests / minute</dt><dd>${k.rpmLimit ?? 'no limit'}</dd>
    <dt>Jobs in flight</dt><dd>${k.maxInflightJobs ?? 'no limit'}</dd>
    <dt>Concurrent downloads</dt><dd>${k.maxConcurrentDownloads ?? 'default (8)'}</dd>
    <dt>Webhook URL</dt><dd>${k.webhookUrl === null ? 'none' : html`<a class="mono" href="#webhooks">${k.webhookUrl}</a>`}</dd>
  </dl></section>
  <section class="panel" id="top-up"><h2>Top up or adjust</h2>
    <form class="stacked" method="post" action="${BASE}/keys/${encodeURIComponent(k.id)}/credit">${csrfField(session)}
      <div class="row"><label>Amount (USD; negative to deduct)<input name="amount_usd" required inputmode="decimal" placeholder="25.00"></label>
      <label>Note<input name="note" maxlength="1000" placeholder="invoice 1042"></label></div>
      <div><button type="submit">Apply</button></div>
    </form>
  </section>
</div>
<div class="grid spaced">
  <section class="panel" id="limits"><h2>Limits</h2>
    <form class="stacked" method="post" action="${BASE}/keys/${encodeURIComponent(k.id)}/limits">${csrfField(session)}
      <label>Name<input name="name" required maxlength="200" value="${k.name}"></label>
      <label>Allowed models (comma separated; empty = all)<input name="allowed_models" value="${k.allowedModels?.join(', ') ?? ''}"></label>
      <div class="row"><label>Requests per minute<input name="rpm_limit" inputmode="numeric" value="${k.rpmLimit ?? ''}" placeholder="no limit"></label>
      <label>Max jobs in flight<input name="max_inflight_jobs" inputmode="numeric" value="${k.maxInflightJobs ?? ''}" placeholder="no limit"></label>
      <label>Concurrent downloads<input name="max_concurrent_downloads" inputmode="numeric" value="${k.maxConcurrentDownloads ?? ''}" placeholder="default (8)"></label></div>
      <div class="row"><label>Expires (YYYY-MM-DD, UTC)<input name="expires_at" value="${k.expiresAt === null ? '' : isoDay(k.expiresAt)}" placeholder="YYYY-MM-DD" autocomplete="off"></label>
      <label class="check"><input type="checkbox" name="disabled" value="1"${k.disabled ? ' checked' : ''}> Disabled</label></div>
      <div><button type="submit">Save limits</button></div>
    </form>
  </section>
  <section class="panel"><h2>Revoke</h2>
    ${revoked
      ? html`<p class="muted">Revoked at ${time(k.revokedAt)}. The key answers 401; its history stays.</p>`
      : html`<p class="muted">A revoked key answers 401 from then on. This cannot be undone; its history stays.</p>
    <details class="danger"><summary>Revoke this key…</summary>
      <form method="post" action="${BASE}/keys/${encodeURIComponent(k.id)}/revoke">${csrfField(session)}<button type="submit" class="danger">Revoke ${k.name} permanently</button></form>
    </details>`}
  </section>
</div>
${webhooks}
<section class="panel"><h2>Recent ledger entries <a class="muted" href="${BASE}/ledger${qs({ key_id: k.id })}">(all)</a></h2>
  <p class="muted small">${LEDGER_SIGNS_NOTE}</p>
  ${ledgerTable('key-ledger', ledger, names, { running, showKey: false, showRequest: false })}
</section>
<section class="panel"><h2>Recent jobs <a class="muted" href="${BASE}/jobs${qs({ key_id: k.id })}">(all)</a></h2>
  ${jobsTable('key-jobs', jobs, names, false)}
</section>`,
  );
}

