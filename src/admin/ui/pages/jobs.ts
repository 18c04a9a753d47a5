import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import type { JobRow } from '../../../db/billing-store.js';
import { OPEN_STATUSES, TERMINAL_STATUSES } from '../../../db/billing-store.js';
import { BASE, emptyRow, keyLink, keyPicker, kindBadge, lookupLink, page, statusBadge, type Html, type KeyNames } from '../layout.js';
import { field, qs, time, usd } from '../format.js';
import { keyDirectory, type UiEnv } from '../context.js';
import { rangeInputs, rangeMessage, readRange } from '../range.js';

const PAGE = 50;
const STATUSES = [...OPEN_STATUSES, ...TERMINAL_STATUSES];

export interface RangeFilter {
  from: string;
  to: string;
  key_id: string;
}

/** The usage export buttons (CSV and JSONL) for a range and key, through the cookie-authenticated route. */
export function exportButtons(f: RangeFilter): Html {
  const q = qs({ from: f.from, to: f.to, key_id: f.key_id });
  return html`<div class="actions"><a class="button secondary" id="export-csv" href="${BASE}/export.csv${q}" download>Export usage CSV</a>
<a class="button secondary" id="export-jsonl" href="${BASE}/export.jsonl${q}" download>Export usage JSONL</a></div>`;
}

/** A jobs table; `names` turns key ids into names, `showKey` adds the key column. */
export function jobsTable(id: string, rows: readonly JobRow[], names: KeyNames, showKey: boolean, empty = 'No jobs match.'): Html {
  const cols = showKey ? 9 : 8;
  // Size sits under the model and the completion time under the status: the table fits a 1366 px screen.
  return html`<div class="table-wrap" tabindex="0"><table id="${id}"><thead><tr><th>Created</th><th>Video</th>${showKey ? html`<th>Key</th>` : ''}<th>Kind</th><th>Model / size</th><th class="num" title="requested / billed">Seconds</th><th>Status / completed</th><th class="num">Held</th><th class="num">Charged</th></tr></thead><tbody>
  ${rows.length === 0
    ? emptyRow(cols, empty)
    : rows.map((j) => html`<tr><td>${time(j.createdAt)}</td><td>${lookupLink(j.videoId ?? j.id)}</td>${showKey ? html`<td>${keyLink(j.keyId, names)}</td>` : ''}<td>${kindBadge(j.kind)}</td>
      <td>${j.model}<div class="muted small mono">${j.size}</div></td><td class="num">${j.requestedSeconds} / ${j.billedSeconds ?? '—'}</td>
      <td>${statusBadge(j.status)}${j.completedAt !== null ? html`<div class="muted small">${time(j.completedAt)}</div>` : ''}</td><td class="num">${usd(j.heldMicros)}</td><td class="num">${usd(j.chargedMicros)}</td></tr>`)}
  </tbody></table></div>`;
}

export function registerJobPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/jobs', async (c) => {
    const f = {
      key_id: field(c.req.query('key_id')),
      status: field(c.req.query('status')),
      model: field(c.req.query('model')),
      from: field(c.req.query('from'), 40),
      to: field(c.req.query('to'), 40),
    };
    const range = readRange(f);
    const beforeJob = c.req.query('before') ? await deps.store.getJob(field(c.req.query('before'))) : undefined;
    const rows = range.error
      ? []
      : await deps.store.listAdminJobs({
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
    const models = [...new Set([...deps.catalog.keys(), ...(f.model ? [f.model] : [])])];
    const { list, names } = await keyDirectory(deps);
    return c.html(
      page(
        c.get('session'),
        'jobs',
        'Jobs',
        html`<h1>Jobs</h1>
<p class="sub">Newest first. Times in UTC; "From" is inclusive and "Before" exclusive. Click a video id for its whole lifecycle.</p>
${rangeMessage(range)}
<section class="panel">
  <form class="filters" method="get" action="${BASE}/jobs">
    ${keyPicker(list, f.key_id)}
    <label>Status<select name="status"><option value="">any</option>${STATUSES.map((s) => html`<option${s === f.status ? ' selected' : ''}>${s}</option>`)}</select></label>
    <label>Model<select name="model"><option value="">any</option>${models.map((m) => html`<option${m === f.model ? ' selected' : ''}>${m}</option>`)}</select></label>
    ${rangeInputs(`${BASE}/jobs`, f, { key_id: f.key_id, status: f.status, model: f.model }, deps.now())}
    <button type="submit">Filter</button>
    <a href="${BASE}/jobs">Clear</a>
  </form>
</section>
<section class="panel">
  <div class="actions spaced-bottom">${exportButtons(f)}<span class="muted">The usage export has one row per billable job in the range (and key); status and model filters do not apply to it.</span></div>
  ${jobsTable('jobs-table', shown, names, true, range.error ? 'Nothing to show: see the date range message above.' : undefined)}
  <div class="pager"><a href="${BASE}/jobs${qs({ ...f })}">Newest</a>${more ? html`<a href="${BASE}/jobs${qs({ ...f, before: shown[shown.length - 1]!.id })}">Older →</a>` : ''}</div>
</section>`,
      ),
    );
  });
}
