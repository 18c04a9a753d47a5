import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { OPEN_STATUSES, TERMINAL_STATUSES } from '../../../db/billing-store.js';
import { BASE, emptyRow, keyLink, lookupLink, page, statusBadge, type Html } from '../layout.js';
import { field, parseTime, qs, time, usd } from '../format.js';
import type { UiEnv } from '../context.js';

const PAGE = 50;
const STATUSES = [...OPEN_STATUSES, ...TERMINAL_STATUSES];

export interface RangeFilter {
  from: string;
  to: string;
  key_id: string;
}

/** from/to filter values → ms, with the message to show when one cannot be read. */
export function readRange(f: { from: string; to: string }): { from?: number; to?: number; error: string | null } {
  const from = parseTime(f.from);
  const to = parseTime(f.to);
  const bad = [!from.ok && 'From', !to.ok && 'Before'].filter(Boolean);
  return {
    from: from.ok ? from.value : undefined,
    to: to.ok ? to.value : undefined,
    error: bad.length ? `${bad.join(' and ')}: not a date (2026-11-01) or timestamp; ignored.` : null,
  };
}

/** The usage export buttons (CSV and JSONL) for a range and key, through the cookie-authenticated route. */
export function exportButtons(f: RangeFilter): Html {
  const q = qs({ from: f.from, to: f.to, key_id: f.key_id });
  return html`<div class="actions"><a class="button secondary" id="export-csv" href="${BASE}/export.csv${q}" download>Export usage CSV</a>
<a class="button secondary" id="export-jsonl" href="${BASE}/export.jsonl${q}" download>Export usage JSONL</a></div>`;
}

export function registerJobPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/jobs', (c) => {
    const f = {
      key_id: field(c.req.query('key_id')),
      status: field(c.req.query('status')),
      model: field(c.req.query('model')),
      from: field(c.req.query('from'), 40),
      to: field(c.req.query('to'), 40),
    };
    const range = readRange(f);
    const beforeJob = c.req.query('before') ? deps.store.getJob(field(c.req.query('before'))) : undefined;
    const rows = deps.store.listAdminJobs({
      keyId: f.key_id || undefined,
      statuses: f.status ? [f.status] : undefined,
      model: f.model || undefined,
      from: range.from,
      to: range.to,
      after: beforeJob ? { createdAt: beforeJob.createdAt, id: beforeJob.id } : undefined,
      order: 'desc',
      limit: PAGE + 1,
    });
    const more = rows.length > PAGE;
    const shown = rows.slice(0, PAGE);
    const models = [...deps.catalog.keys()];
    return c.html(
      page(
        c.get('session'),
        'jobs',
        'Jobs',
        html`<h1>Jobs</h1>
<p class="sub">Newest first. Times in UTC; "From" is inclusive and "Before" exclusive. Click a video id for its whole lifecycle.</p>
${range.error ? html`<div class="flash error" role="alert">${range.error}</div>` : ''}
<section class="panel">
  <form class="filters" method="get" action="${BASE}/jobs">
    <label>Key id<input name="key_id" value="${f.key_id}" placeholder="key_…" size="30"></label>
    <label>Status<select name="status"><option value="">any</option>${STATUSES.map((s) => html`<option${s === f.status ? ' selected' : ''}>${s}</option>`)}</select></label>
    <label>Model<input name="model" list="models" value="${f.model}" size="14"></label>
    <datalist id="models">${models.map((m) => html`<option value="${m}">`)}</datalist>
    <label>From<input name="from" type="date" value="${f.from}"></label>
    <label>Before<input name="to" type="date" value="${f.to}"></label>
    <button type="submit">Filter</button>
    <a href="${BASE}/jobs">Clear</a>
  </form>
</section>
<section class="panel">
  <div class="actions spaced-bottom">${exportButtons(f)}<span class="muted">The usage export has one row per billable job in the range (and key); status and model filters do not apply to it.</span></div>
  <div class="table-wrap"><table id="jobs-table"><thead><tr><th>Created</th><th>Video</th><th>Key</th><th>Model</th><th>Size</th><th class="num" title="requested / billed">Seconds</th><th>Status</th><th class="num">Held</th><th class="num">Charged</th><th>Completed</th></tr></thead><tbody>
  ${shown.length === 0
    ? emptyRow(10, 'No jobs match.')
    : shown.map((j) => html`<tr><td>${time(j.createdAt)}</td><td>${lookupLink(j.videoId ?? j.id)}</td><td>${keyLink(j.keyId)}</td><td>${j.model}</td><td>${j.size}</td>
      <td class="num">${j.requestedSeconds} / ${j.billedSeconds ?? '—'}</td><td>${statusBadge(j.status)}</td><td class="num">${usd(j.heldMicros)}</td><td class="num">${usd(j.chargedMicros)}</td>
      <td>${time(j.completedAt)}</td></tr>`)}
  </tbody></table></div>
  <div class="pager"><a href="${BASE}/jobs${qs({ ...f })}">Newest</a>${more ? html`<a href="${BASE}/jobs${qs({ ...f, before: shown[shown.length - 1]!.id })}">Older →</a>` : ''}</div>
</section>`,
      ),
    );
  });
}
