import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import type { KeyRow } from '../../../db/keys-store.js';
import { BalanceError } from '../../../db/billing-store.js';
import { createKeyWithCredit } from '../../../keys/create.js';
import { ApiError } from '../../../errors.js';
import { formatUsd } from '../../../money.js';
import { createKeySchema, patchKeySchema, creditSchema, newKeyRequest } from '../../keys-routes.js';
import { firstIssue } from '../../input.js';
import { BASE, csrfField, emptyRow, keyState, lookupLink, notFoundPage, page, statusBadge, type Html } from '../layout.js';
import { field, isoDay, qs, time, usd } from '../format.js';
import { flash, formOf, seeOther, who, type UiEnv } from '../context.js';
import type { Session } from '../session.js';

const PAGE = 50;

/** "a, b c" → ["a","b","c"]; empty → `empty`. */
function modelsOf(raw: string, empty: null | undefined): string[] | null | undefined {
  const list = raw.split(/[\s,]+/).filter(Boolean);
  return list.length === 0 ? empty : list;
}
/** A whole number field; empty → `empty`; anything else is passed on for zod to refuse by name. */
function intOf(raw: string, empty: null | undefined): number | string | null | undefined {
  const t = raw.trim();
  if (!t) return empty;
  return /^\d{1,9}$/.test(t) ? Number(t) : t;
}

interface CreateForm {
  name: string;
  credit_usd: string;
  allowed_models: string;
  rpm_limit: string;
  max_inflight_jobs: string;
  max_concurrent_downloads: string;
  expires_at: string;
}
const EMPTY_FORM: CreateForm = { name: '', credit_usd: '', allowed_models: '', rpm_limit: '', max_inflight_jobs: '', max_concurrent_downloads: '', expires_at: '' };

function createForm(session: Session, f: CreateForm, error: string | null): Html {
  return html`<section class="panel" id="create-key">
  <h2>Create a key</h2>
  ${error ? html`<div class="flash error" role="alert">${error}</div>` : ''}
  <form class="stacked" method="post" action="${BASE}/keys">
    ${csrfField(session)}
    <label>Name<input name="name" required maxlength="200" value="${f.name}" placeholder="e.g. acme-production"></label>
    <div class="row">
      <label>Initial credit (USD)<input name="credit_usd" inputmode="decimal" value="${f.credit_usd}" placeholder="10.00"></label>
      <label>Expires (date, UTC)<input name="expires_at" type="date" value="${f.expires_at}"></label>
    </div>
    <label>Allowed models (comma separated; empty = all)<input name="allowed_models" value="${f.allowed_models}" placeholder="sora-2, sora-2-pro"></label>
    <div class="row">
      <label>Requests per minute<input name="rpm_limit" inputmode="numeric" value="${f.rpm_limit}" placeholder="no limit"></label>
      <label>Max jobs in flight<input name="max_inflight_jobs" inputmode="numeric" value="${f.max_inflight_jobs}" placeholder="no limit"></label>
      <label>Concurrent downloads<input name="max_concurrent_downloads" inputmode="numeric" value="${f.max_concurrent_downloads}" placeholder="default (8)"></label>
    </div>
    <div><button type="submit">Create key</button></div>
  </form>
</section>`;
}

function keysList(deps: Deps, session: Session, after: string | undefined, form: CreateForm, error: string | null): Html {
  const now = deps.now();
  const rows = deps.store.listKeys({ after, limit: PAGE + 1 });
  const more = rows.length > PAGE;
  const shown = rows.slice(0, PAGE);
  return page(
    session,
    'keys',
    'Keys',
    html`<h1>Keys</h1>
<p class="sub">Balances in USD. The secret of a key is shown once, right after it is created.</p>
<section class="panel">
  <div class="table-wrap"><table id="keys-table"><thead><tr><th>Name</th><th>Prefix</th><th>State</th><th class="num">Balance</th><th class="num">Held</th><th class="num">Available</th><th>Last used</th><th>Created</th></tr></thead><tbody>
  ${shown.length === 0 ? emptyRow(8, 'No keys yet.') : shown.map((k) => html`<tr>
    <td class="wrap"><a href="${BASE}/keys/${encodeURIComponent(k.id)}">${k.name}</a><div class="mono muted small">${k.id}</div></td><td class="mono">${k.prefix}</td><td>${keyState(k, now)}</td>
    <td class="num">${usd(k.balanceMicros)}</td><td class="num">${usd(k.heldMicros)}</td><td class="num">${usd(k.balanceMicros - k.heldMicros)}</td>
    <td>${time(k.lastUsedAt)}</td><td>${time(k.createdAt)}</td></tr>`)}
  </tbody></table></div>
  <div class="pager"><span></span>${more ? html`<a href="${BASE}/keys${qs({ after: shown[shown.length - 1]!.id })}">Next page →</a>` : ''}</div>
</section>
${createForm(session, form, error)}`,
  );
}

function keyDetail(deps: Deps, session: Session, k: KeyRow): Html {
  const now = deps.now();
  const reveal = session.revealOnce?.keyId === k.id ? session.revealOnce.secret : null;
  if (reveal !== null) session.revealOnce = null; // shown once, never again
  const ledger = deps.store.listAdminLedger({ keyId: k.id, order: 'desc', limit: 15 });
  const jobs = deps.store.listAdminJobs({ keyId: k.id, order: 'desc', limit: 15 });
  const revoked = k.revokedAt !== null;
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
<div class="cards">
  <div class="card"><div class="label">Balance</div><div class="value" id="balance">${usd(k.balanceMicros)}</div></div>
  <div class="card"><div class="label">Held by open jobs</div><div class="value">${usd(k.heldMicros)}</div></div>
  <div class="card"><div class="label">Available</div><div class="value" id="available">${usd(k.balanceMicros - k.heldMicros)}</div></div>
</div>
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
      <div class="row"><label>Expires (date, UTC)<input name="expires_at" type="date" value="${k.expiresAt === null ? '' : isoDay(k.expiresAt)}"></label>
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
<section class="panel spaced"><h2>Recent ledger entries <a class="muted" href="${BASE}/ledger${qs({ key_id: k.id })}">(all)</a></h2>
  <div class="table-wrap"><table id="key-ledger"><thead><tr><th>When</th><th>Kind</th><th class="num">Amount</th><th>Job</th><th>Actor</th><th>Note</th></tr></thead><tbody>
  ${ledger.length === 0 ? emptyRow(6, 'No entries.') : ledger.map((e) => html`<tr><td>${time(e.createdAt)}</td><td>${e.kind}</td><td class="num">${usd(e.amountMicros)}</td><td>${lookupLink(e.videoId ?? e.jobId)}</td><td>${e.actor}</td><td class="wrap">${e.note ?? ''}</td></tr>`)}
  </tbody></table></div>
</section>
<section class="panel"><h2>Recent jobs <a class="muted" href="${BASE}/jobs${qs({ key_id: k.id })}">(all)</a></h2>
  <div class="table-wrap"><table><thead><tr><th>Created</th><th>Video</th><th>Model</th><th>Status</th><th class="num" title="requested / billed">Seconds</th><th class="num">Charged</th></tr></thead><tbody>
  ${jobs.length === 0 ? emptyRow(6, 'No jobs.') : jobs.map((j) => html`<tr><td>${time(j.createdAt)}</td><td>${lookupLink(j.videoId ?? j.id)}</td><td>${j.model}</td><td>${statusBadge(j.status)}</td><td class="num">${j.requestedSeconds} / ${j.billedSeconds ?? '—'}</td><td class="num">${usd(j.chargedMicros)}</td></tr>`)}
  </tbody></table></div>
</section>`,
  );
}

export function registerKeyPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/keys', (c) => c.html(keysList(deps, c.get('session'), field(c.req.query('after')) || undefined, EMPTY_FORM, null)));

  app.post('/keys', (c) => {
    const form = formOf(c);
    const f: CreateForm = {
      name: field(form.get('name'), 300),
      credit_usd: field(form.get('credit_usd'), 40),
      allowed_models: field(form.get('allowed_models'), 5000),
      rpm_limit: field(form.get('rpm_limit'), 20),
      max_inflight_jobs: field(form.get('max_inflight_jobs'), 20),
      max_concurrent_downloads: field(form.get('max_concurrent_downloads'), 20),
      expires_at: field(form.get('expires_at'), 40),
    };
    const input = {
      name: f.name,
      ...(f.credit_usd && { credit_usd: f.credit_usd }),
      allowed_models: modelsOf(f.allowed_models, undefined),
      rpm_limit: intOf(f.rpm_limit, undefined),
      max_inflight_jobs: intOf(f.max_inflight_jobs, undefined),
      max_concurrent_downloads: intOf(f.max_concurrent_downloads, undefined),
      expires_at: f.expires_at || undefined,
    };
    const parsed = createKeySchema.safeParse(input);
    if (!parsed.success) return c.html(keysList(deps, c.get('session'), undefined, f, firstIssue(parsed.error).message), 400);
    let created;
    try {
      created = createKeyWithCredit(deps.store, newKeyRequest(parsed.data), who(c, deps));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400) throw err;
      return c.html(keysList(deps, c.get('session'), undefined, f, err.message), 400);
    }
    const { key, secret } = created;
    const body = parsed.data;
    c.get('session').revealOnce = { keyId: key.id, secret };
    flash(c, 'ok', `Key "${body.name}" created.`);
    return seeOther(c, `${BASE}/keys/${encodeURIComponent(key.id)}`);
  });

  app.get('/keys/:id', (c) => {
    const key = deps.store.getKey(c.req.param('id'));
    if (!key) return c.html(notFoundPage(c.get('session')), 404);
    return c.html(keyDetail(deps, c.get('session'), key));
  });

  app.post('/keys/:id/credit', (c) => {
    const id = c.req.param('id');
    if (!deps.store.getKey(id)) return c.html(notFoundPage(c.get('session')), 404);
    const form = formOf(c);
    const back = `${BASE}/keys/${encodeURIComponent(id)}`;
    const note = field(form.get('note'), 1000);
    const parsed = creditSchema.safeParse({ amount_usd: field(form.get('amount_usd'), 40), ...(note && { note }) });
    if (!parsed.success) {
      flash(c, 'error', firstIssue(parsed.error).message);
      return seeOther(c, back);
    }
    const amount = parsed.data.amount_usd;
    if (amount === 0) {
      flash(c, 'error', 'amount_usd: must not be zero');
      return seeOther(c, back);
    }
    const w = who(c, deps);
    try {
      deps.store.appendCredit(id, amount, parsed.data.note ?? null, w);
    } catch (err) {
      if (!(err instanceof BalanceError)) throw err;
      flash(c, 'error', 'The adjustment would take the available balance below zero.');
      return seeOther(c, back);
    }
    deps.store.appendAudit({ ...w, action: amount > 0 ? 'key.credit' : 'key.adjust', targetId: id, details: { amount_usd: formatUsd(amount), note: parsed.data.note ?? null } });
    const after = deps.store.getKey(id)!;
    flash(c, 'ok', `${amount > 0 ? 'Added' : 'Deducted'} ${usd(Math.abs(amount))}. Balance is now ${usd(after.balanceMicros)}.`);
    return seeOther(c, back);
  });

  app.post('/keys/:id/limits', (c) => {
    const id = c.req.param('id');
    if (!deps.store.getKey(id)) return c.html(notFoundPage(c.get('session')), 404);
    const form = formOf(c);
    const back = `${BASE}/keys/${encodeURIComponent(id)}`;
    const parsed = patchKeySchema.safeParse({
      name: field(form.get('name'), 300),
      disabled: form.get('disabled') === '1',
      allowed_models: modelsOf(field(form.get('allowed_models'), 5000), null),
      rpm_limit: intOf(field(form.get('rpm_limit'), 20), null),
      max_inflight_jobs: intOf(field(form.get('max_inflight_jobs'), 20), null),
      max_concurrent_downloads: intOf(field(form.get('max_concurrent_downloads'), 20), null),
      expires_at: field(form.get('expires_at'), 40) || null,
    });
    if (!parsed.success) {
      flash(c, 'error', firstIssue(parsed.error).message);
      return seeOther(c, back);
    }
    const b = parsed.data;
    deps.store.updateKey(id, {
      name: b.name,
      disabled: b.disabled,
      allowedModels: b.allowed_models ?? null,
      rpmLimit: b.rpm_limit ?? null,
      maxInflightJobs: b.max_inflight_jobs ?? null,
      maxConcurrentDownloads: b.max_concurrent_downloads ?? null,
      expiresAt: b.expires_at ?? null,
    });
    deps.store.appendAudit({ ...who(c, deps), action: 'key.update', targetId: id, details: { ...b, expires_at: b.expires_at ? new Date(b.expires_at).toISOString() : null } });
    flash(c, 'ok', 'Limits saved.');
    return seeOther(c, back);
  });

  app.post('/keys/:id/revoke', (c) => {
    const id = c.req.param('id');
    const key = deps.store.getKey(id);
    if (!key) return c.html(notFoundPage(c.get('session')), 404);
    const back = `${BASE}/keys/${encodeURIComponent(id)}`;
    if (key.revokedAt !== null) {
      flash(c, 'error', 'This key was already revoked.');
      return seeOther(c, back);
    }
    const w = who(c, deps);
    deps.store.revokeKey(id, w.now);
    deps.store.appendAudit({ ...w, action: 'key.revoke', targetId: id, details: null });
    flash(c, 'ok', `Key "${key.name}" revoked.`);
    return seeOther(c, back);
  });
}
