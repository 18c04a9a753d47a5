import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { BASE, emptyRow, keyLink, lookupLink, page } from '../layout.js';
import { field, qs, time, usd } from '../format.js';
import type { UiEnv } from '../context.js';
import { exportButtons, readRange } from './jobs.js';

const PAGE = 50;

export function registerLedgerPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/ledger', (c) => {
    const f = {
      key_id: field(c.req.query('key_id')),
      job_id: field(c.req.query('job_id')),
      from: field(c.req.query('from'), 40),
      to: field(c.req.query('to'), 40),
    };
    const range = readRange(f);
    const before = Number(c.req.query('before'));
    const rows = deps.store.listAdminLedger({
      keyId: f.key_id || undefined,
      jobId: f.job_id || undefined,
      from: range.from,
      to: range.to,
      afterSeq: Number.isSafeInteger(before) && before > 0 ? before : undefined,
      order: 'desc',
      limit: PAGE + 1,
    });
    const more = rows.length > PAGE;
    const shown = rows.slice(0, PAGE);
    const q = qs({ key_id: f.key_id, job_id: f.job_id, from: f.from, to: f.to });
    return c.html(
      page(
        c.get('session'),
        'ledger',
        'Ledger',
        html`<h1>Ledger</h1>
<p class="sub">Every money movement, newest first. Amounts are positive; the kind says which way they move (credit and release add to what a key can spend; hold, capture and adjustment take from it).</p>
${range.error ? html`<div class="flash error" role="alert">${range.error}</div>` : ''}
<section class="panel">
  <form class="filters" method="get" action="${BASE}/ledger">
    <label>Key id<input name="key_id" value="${f.key_id}" placeholder="key_…" size="30"></label>
    <label>Job id<input name="job_id" value="${f.job_id}" placeholder="job_…" size="30"></label>
    <label>From<input name="from" type="date" value="${f.from}"></label>
    <label>Before<input name="to" type="date" value="${f.to}"></label>
    <button type="submit">Filter</button>
    <a href="${BASE}/ledger">Clear</a>
  </form>
</section>
<section class="panel">
  <div class="actions spaced-bottom"><a class="button secondary" id="export-ledger-csv" href="${BASE}/ledger.csv${q}" download>Export ledger CSV</a>${exportButtons({ from: f.from, to: f.to, key_id: f.key_id })}</div>
  <div class="table-wrap"><table id="ledger-table"><thead><tr><th>When</th><th>Kind</th><th class="num">Amount</th><th>Key</th><th>Job / video</th><th>Request</th><th>Actor</th><th>Note</th></tr></thead><tbody>
  ${shown.length === 0
    ? emptyRow(8, 'No entries match.')
    : shown.map((e) => html`<tr><td>${time(e.createdAt)}</td><td>${e.kind}</td><td class="num">${usd(e.amountMicros)}</td><td>${keyLink(e.keyId)}</td>
      <td>${lookupLink(e.videoId ?? e.jobId)}</td><td>${lookupLink(e.requestId)}</td><td>${e.actor}</td><td class="wrap">${e.note ?? ''}</td></tr>`)}
  </tbody></table></div>
  <div class="pager"><a href="${BASE}/ledger${q}">Newest</a>${more ? html`<a href="${BASE}/ledger${qs({ key_id: f.key_id, job_id: f.job_id, from: f.from, to: f.to, before: shown[shown.length - 1]!.seq })}">Older →</a>` : ''}</div>
</section>`,
      ),
    );
  });
}
