import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import type { KeyRow } from '../../../db/keys-store.js';
import type { WebhookDelivery } from '../../../store/store.js';
import type { WebhookEventStatus } from '../../../store/rows.js';
import { ApiError } from '../../../errors.js';
import { checkedWebhookUrl, newSecretRecord, rotateWebhookSecret } from '../../../keys/webhook.js';
import { MAX_WEBHOOK_URL_LENGTH } from '../../../webhooks/address.js';
import { BASE, csrfField, emptyRow, keyState, lookupLink, notFoundPage, page, type Html } from '../layout.js';
import { field, qs, time } from '../format.js';
import { flash, formOf, seeOther, who, type UiEnv } from '../context.js';
import type { Session } from '../session.js';

/**
 * A key's webhook endpoint on the dashboard (contract §12): set, change or remove the URL, rotate
 * the signing secret (the new one shown once through the session's reveal-once secret, as a new
 * key's is), and the key's recent events with every delivery attempt and a redeliver button.
 * Changes are audited as the admin API audits them, with the actor admin-ui.
 */

const STATUSES: readonly WebhookEventStatus[] = ['pending', 'delivered', 'failed'];
/** Events on the key's page, and per page of the key's deliveries page. */
const ON_KEY_PAGE = 10;
const PAGE = 50;

const keyPath = (keyId: string) => `${BASE}/keys/${encodeURIComponent(keyId)}`;

function deliveryBadge(status: WebhookEventStatus): Html {
  const kind = status === 'delivered' ? 'ok' : status === 'failed' ? 'bad' : 'info';
  return html`<span class="badge ${kind}">${status}</span>`;
}

/** One attempt: when, the endpoint's status code (or none), how long it took, and why it failed. */
function attemptLine(a: WebhookDelivery['attempts'][number]): Html {
  const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
  return html`<li class="${ok ? 'ok' : 'bad'}"><span class="mono">${time(a.at)}</span> · ${a.statusCode === null ? html`<span class="muted">no answer</span>` : html`<strong>HTTP ${a.statusCode}</strong>`} · ${a.durationMs} ms${a.error === null || a.error === `HTTP ${a.statusCode}` ? '' : html`<div class="small err">${a.error}</div>`}</li>`;
}

/**
 * The events of one key, newest first, each with its attempts (oldest first), its status and next
 * attempt, and a redeliver button (same webhook-id and body, fresh signature). `from` says where
 * the button leads back to.
 */
export function deliveriesTable(id: string, session: Session, keyId: string, rows: readonly WebhookDelivery[], from: 'key' | 'list', empty: string): Html {
  return html`<div class="table-wrap" tabindex="0"><table id="${id}"><thead><tr><th>Created</th><th>Event / type</th><th>Video</th><th>Status / next attempt</th><th>Attempts</th><th>Action</th></tr></thead><tbody>
  ${rows.length === 0
    ? emptyRow(6, empty)
    : rows.map(({ event: e, attempts }) => {
        const next = e.status === 'pending' && e.nextAttemptAt !== null ? html`<div class="muted small">next ${time(e.nextAttemptAt)}</div>` : e.deliveredAt !== null ? html`<div class="muted small">delivered ${time(e.deliveredAt)}</div>` : '';
        return html`<tr data-event="${e.id}"><td>${time(e.createdAt)}</td><td><span class="mono trunc" title="${e.id}">${e.id}</span><div class="muted small">${e.type}</div></td><td>${lookupLink(e.videoId)}</td>
      <td>${deliveryBadge(e.status)}${next}</td>
      <td class="wrap attempts-cell">${attempts.length === 0 ? html`<span class="muted">none yet</span>` : html`<ol class="attempts">${attempts.map(attemptLine)}</ol>`}</td>
      <td><form method="post" action="${keyPath(keyId)}/webhooks/${encodeURIComponent(e.id)}/redeliver">${csrfField(session)}<input type="hidden" name="from" value="${from}"><button type="submit" class="secondary" aria-label="Redeliver ${e.id}">Redeliver</button></form></td></tr>`;
      })}
  </tbody></table></div>`;
}

/** The key page's webhook panel: the endpoint form, rotation, removal and the recent deliveries. */
export async function webhookSection(deps: Deps, session: Session, k: KeyRow): Promise<Html> {
  const now = deps.now();
  const [{ secrets }, recent] = await Promise.all([deps.store.webhookTarget(k.id, now), deps.store.listWebhookDeliveries({ keyId: k.id, limit: ON_KEY_PAGE })]);
  const path = keyPath(k.id);
  const endpoint =
    k.webhookUrl === null
      ? html`<p class="muted" id="webhook-none">No webhook endpoint: this key’s clients learn of finished jobs by polling. Setting a URL issues a signing secret, shown once.</p>`
      : html`<dl class="facts"><dt>URL</dt><dd class="mono" id="webhook-url">${k.webhookUrl}</dd>
    <dt>Signing secrets</dt><dd id="webhook-secrets">${secrets.length === 1 ? '1 (the current one)' : html`${secrets.length}: the current one and the previous one, which keeps signing for 24 hours after a rotation`}</dd></dl>`;
  return html`<section class="panel spaced" id="webhooks"><h2>Webhooks</h2>
  ${endpoint}
  <div class="grid spaced">
    <form class="stacked" method="post" action="${path}/webhook">${csrfField(session)}
      <label>Webhook URL (http or https)<input name="webhook_url" id="webhook-url-input" required maxlength="${MAX_WEBHOOK_URL_LENGTH}" inputmode="url" autocomplete="off" value="${k.webhookUrl ?? ''}" placeholder="https://client.example/reelay-events"></label>
      <div><button type="submit">${k.webhookUrl === null ? 'Set webhook URL' : 'Change webhook URL'}</button></div>
    </form>
    ${k.webhookUrl === null
      ? ''
      : html`<div class="stack">
      <form method="post" action="${path}/webhook-secret">${csrfField(session)}<p class="muted small">A new signing secret, shown once; the current one keeps signing for 24 hours, so clients can switch without losing events.</p><button type="submit" class="secondary" id="rotate-webhook-secret">Rotate signing secret</button></form>
      <details class="danger"><summary>Remove the webhook endpoint…</summary>
        <form method="post" action="${path}/webhook/remove">${csrfField(session)}<p class="muted small">No more events are sent for this key, and its signing secrets are dropped. Events already recorded are kept.</p><button type="submit" class="danger">Remove webhook endpoint</button></form>
      </details>
    </div>`}
  </div>
  <h3>Recent deliveries <a class="muted" href="${path}/webhooks">(all)</a></h3>
  ${deliveriesTable('key-deliveries', session, k.id, recent, 'key', k.webhookUrl === null ? 'No webhook events for this key.' : 'No webhook events yet: one is sent when a job of this key ends.')}
</section>`;
}

/** The secret box for a new webhook signing secret (shown once). */
export function webhookSecretReveal(secret: string): Html {
  return html`<div class="secret" id="new-webhook-secret" role="status"><strong>Copy this webhook signing secret now: it will not be shown again.</strong>
  <code id="webhook-secret-value">${secret}</code><span class="muted">The client verifies each event with it, e.g. <span class="mono">client.webhooks.unwrap(body, headers, secret)</span> in the OpenAI SDK.</span></div>`;
}

/** The key's deliveries page: every event of the key, newest first, by status, 50 a page. */
async function deliveriesPage(deps: Deps, session: Session, k: KeyRow, f: { status: string; after: string }): Promise<Html> {
  const status = (STATUSES as readonly string[]).includes(f.status) ? (f.status as WebhookEventStatus) : undefined;
  const afterEvent = f.after ? await deps.store.getWebhookEvent(f.after) : undefined;
  const usable = afterEvent !== undefined && afterEvent.keyId === k.id;
  const rows = await deps.store.listWebhookDeliveries({ keyId: k.id, status, afterId: usable ? afterEvent.id : undefined, limit: PAGE + 1 });
  const shown = rows.slice(0, PAGE);
  const path = keyPath(k.id);
  const more = rows.length > PAGE ? html`<a class="button secondary" id="deliveries-older" href="${path}/webhooks${qs({ status, after: shown[shown.length - 1]!.event.id })}">Older events →</a>` : '';
  return page(
    session,
    'keys',
    `Webhook deliveries of ${k.name}`,
    html`<p><a href="${path}">← ${k.name}</a></p>
<h1>Webhook deliveries ${keyState(k, deps.now())}</h1>
<p class="sub">Events of <a href="${path}">${k.name}</a> (<span class="mono">${k.id}</span>), newest first, each with its delivery attempts. ${k.webhookUrl === null ? 'The key has no webhook endpoint now.' : html`Sent to <span class="mono">${k.webhookUrl}</span>.`} A failed attempt is retried after about 5 s, 1 min, 5 min, 30 min, 2 h, 6 h and 12 h, then the event is given up (failed).</p>
<section class="panel">
  <form class="filters spaced-bottom" method="get" action="${path}/webhooks"><label>Status<select name="status"><option value="">any</option>${STATUSES.map((s) => html`<option value="${s}"${s === status ? ' selected' : ''}>${s}</option>`)}</select></label><button type="submit" class="secondary">Show</button></form>
  ${f.after && !usable ? html`<div class="flash error" role="alert">No event of this key with that id: showing the newest.</div>` : ''}
  ${deliveriesTable('deliveries', session, k.id, shown, 'list', status ? `No ${status} events.` : 'No webhook events for this key.')}
  <div class="pager">${f.after ? html`<a class="button secondary" href="${path}/webhooks${qs({ status })}">← Newest</a>` : html`<span></span>`}${more}</div>
</section>`,
  );
}

export function registerWebhookPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/keys/:id/webhooks', async (c) => {
    const key = await deps.store.getKey(c.req.param('id'));
    if (!key) return c.html(notFoundPage(c.get('session')), 404);
    return c.html(await deliveriesPage(deps, c.get('session'), key, { status: field(c.req.query('status'), 20), after: field(c.req.query('after'), 300) }));
  });

  // Sets or changes the URL; the first URL a key gets issues its secret, shown once on the key's page.
  app.post('/keys/:id/webhook', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) return c.html(notFoundPage(c.get('session')), 404);
    const back = `${keyPath(id)}#webhooks`;
    const raw = field(formOf(c).get('webhook_url'), MAX_WEBHOOK_URL_LENGTH + 1);
    if (!raw) {
      flash(c, 'error', 'webhook_url: enter an http or https URL (or remove the endpoint).');
      return seeOther(c, back);
    }
    let url: string;
    try {
      url = await checkedWebhookUrl(raw, deps.config.webhookAllowPrivate);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400) throw err;
      flash(c, 'error', err.message);
      return seeOther(c, back);
    }
    const updated = await deps.store.updateKey(id, { webhookUrl: url }, { who: who(c, deps), entry: { action: 'key.update', targetId: id, details: { webhook_url: url } } }, newSecretRecord());
    if (!updated) return c.html(notFoundPage(c.get('session')), 404);
    if (updated.issuedWebhookSecret !== undefined) {
      c.get('session').revealOnce = { keyId: id, secret: updated.issuedWebhookSecret, kind: 'webhook' };
      flash(c, 'ok', 'Webhook URL set. Copy its signing secret below: it is shown only this once.');
    } else flash(c, 'ok', 'Webhook URL changed; the signing secret stays the same.');
    return seeOther(c, back);
  });

  app.post('/keys/:id/webhook/remove', async (c) => {
    const id = c.req.param('id');
    const key = await deps.store.getKey(id);
    if (!key) return c.html(notFoundPage(c.get('session')), 404);
    const back = `${keyPath(id)}#webhooks`;
    if (key.webhookUrl === null) {
      flash(c, 'error', 'This key has no webhook endpoint.');
      return seeOther(c, back);
    }
    await deps.store.updateKey(id, { webhookUrl: null }, { who: who(c, deps), entry: { action: 'key.update', targetId: id, details: { webhook_url: null } } });
    flash(c, 'ok', 'Webhook endpoint removed: no more events are sent for this key.');
    return seeOther(c, back);
  });

  app.post('/keys/:id/webhook-secret', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) return c.html(notFoundPage(c.get('session')), 404);
    const back = `${keyPath(id)}#webhooks`;
    let rotated;
    try {
      rotated = await rotateWebhookSecret(deps.store, id, who(c, deps));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500) throw err;
      flash(c, 'error', err.message);
      return seeOther(c, back);
    }
    c.get('session').revealOnce = { keyId: id, secret: rotated.secret, kind: 'webhook' };
    flash(c, 'ok', `New signing secret issued: copy it below, it is shown only this once. The previous one keeps signing until ${time(rotated.previousExpiresAt)} UTC.`);
    return seeOther(c, back);
  });

  // Sends the event again now, whatever its status: same webhook-id and body, fresh signature.
  app.post('/keys/:id/webhooks/:eventId/redeliver', async (c) => {
    const id = c.req.param('id');
    const eventId = c.req.param('eventId');
    const event = await deps.store.getWebhookEvent(eventId);
    if (!event || event.keyId !== id) return c.html(notFoundPage(c.get('session')), 404);
    const w = who(c, deps);
    await deps.store.requeueWebhookEvent(eventId, w.now, { who: w, entry: { action: 'webhook.redeliver', targetId: eventId, details: null } });
    deps.webhooks.wake();
    flash(c, 'ok', `Event ${eventId} queued for delivery now.`);
    return seeOther(c, formOf(c).get('from') === 'list' ? `${keyPath(id)}/webhooks` : `${keyPath(id)}#webhooks`);
  });
}
