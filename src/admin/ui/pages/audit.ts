import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { actorLabel, BASE, emptyRow, keyLink, keyPicker, lookupLink, page, type KeyNames } from '../layout.js';
import { field, qs, time } from '../format.js';
import { keyDirectory, type UiEnv } from '../context.js';
import { rangeInputs, rangeMessage, readRange } from '../range.js';

/** The audit trail (GET /admin/audit): every admin change, newest first, by key, action and date. */
const PAGE = 50;

/** The stored details as one compact line of JSON (they are small: what changed). */
function details(raw: string | null): string {
  if (raw === null) return '';
  try {
    return JSON.stringify(JSON.parse(raw));
  } catch {
    return raw;
  }
}

function target(id: string | null, names: KeyNames) {
  if (id === null) return html`<span class="muted">—</span>`;
  return names.has(id) ? keyLink(id, names) : html`<span class="mono">${id}</span>`;
}

export function registerAuditPage(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/audit', async (c) => {
    const f = {
      key_id: field(c.req.query('key_id')),
      action: field(c.req.query('action'), 100),
      from: field(c.req.query('from'), 40),
      to: field(c.req.query('to'), 40),
    };
    const range = readRange(f);
    const before = Number(c.req.query('before'));
    const rows = range.error
      ? []
      : await deps.store.searchAudit({
          targetId: f.key_id || undefined,
          action: f.action || undefined,
          from: range.from,
          to: range.to,
          beforeSeq: Number.isSafeInteger(before) && before > 0 ? before : undefined,
          limit: PAGE + 1,
        });
    const more = rows.length > PAGE;
    const shown = rows.slice(0, PAGE);
    const { list, names } = await keyDirectory(deps);
    const actions = await deps.store.auditActions();
    if (f.action && !actions.includes(f.action)) actions.push(f.action);
    const action = `${BASE}/audit`;
    return c.html(
      page(
        c.get('session'),
        'audit',
        'Audit trail',
        html`<h1>Audit trail</h1>
<p class="sub">Every change made through the admin API, the dashboard or the CLI, newest first, UTC: who, what, and the request it came in.</p>
${rangeMessage(range)}
<section class="panel">
  <form class="filters" method="get" action="${action}">
    ${keyPicker(list, f.key_id)}
    <label>Action<select name="action"><option value="">any</option>${actions.map((a) => html`<option${a === f.action ? ' selected' : ''}>${a}</option>`)}</select></label>
    ${rangeInputs(action, f, { key_id: f.key_id, action: f.action }, deps.now())}
    <button type="submit">Filter</button>
    <a href="${action}">Clear</a>
  </form>
</section>
<section class="panel">
  <div class="table-wrap" tabindex="0"><table id="audit-table"><thead><tr><th>When</th><th>Action</th><th>Actor</th><th>Target</th><th>Request</th><th>Details</th></tr></thead><tbody>
  ${shown.length === 0
    ? emptyRow(6, range.error ? 'Nothing to show: see the date range message above.' : 'No audit entries match.')
    : shown.map((a) => html`<tr><td>${time(a.createdAt)}</td><td><span class="kind">${a.action}</span></td><td>${actorLabel(a.actor, names)}</td><td>${target(a.targetId, names)}</td>
      <td>${lookupLink(a.requestId)}</td><td class="wrap mono small details">${details(a.details)}</td></tr>`)}
  </tbody></table></div>
  <div class="pager"><a href="${action}${qs(f)}">Newest</a>${more ? html`<a href="${action}${qs({ ...f, before: shown[shown.length - 1]!.seq })}">Older →</a>` : ''}</div>
</section>`,
      ),
    );
  });
}
