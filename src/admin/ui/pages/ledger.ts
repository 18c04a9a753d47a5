import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { BASE, keyPicker, page } from '../layout.js';
import { field, qs } from '../format.js';
import { keyDirectory, type UiEnv } from '../context.js';
import { rangeInputs, rangeMessage, readRange } from '../range.js';
import { LEDGER_SIGNS_NOTE, ledgerTable, runningAfter, toRunning } from '../ledger-view.js';
import { exportButtons } from './jobs.js';

const PAGE = 50;

export function registerLedgerPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/ledger', async (c) => {
    const f = {
      key_id: field(c.req.query('key_id')),
      job_id: field(c.req.query('job_id')),
      from: field(c.req.query('from'), 40),
      to: field(c.req.query('to'), 40),
    };
    const range = readRange(f);
    const before = Number(c.req.query('before'));
    const rows = range.error
      ? []
      : await deps.store.listAdminLedger({
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
    // The running balance needs every row to be of one key; the job filter leaves gaps, so it is shown for a key alone.
    const running = f.key_id && !f.job_id && shown.length > 0 ? runningAfter(shown, toRunning(await deps.store.ledgerTotalsUpTo(f.key_id, shown[0]!.seq))) : undefined;
    const { list, names } = await keyDirectory(deps);
    // With the two running columns the request column goes (the job lookup has it): the table fits 1366 px.
    const q = qs({ key_id: f.key_id, job_id: f.job_id, from: f.from, to: f.to });
    return c.html(
      page(
        c.get('session'),
        'ledger',
        'Ledger',
        html`<h1>Ledger</h1>
<p class="sub">Every money movement, newest first, UTC. ${LEDGER_SIGNS_NOTE} Pick a key to see its running balance.</p>
${rangeMessage(range)}
<section class="panel">
  <form class="filters" method="get" action="${BASE}/ledger">
    ${keyPicker(list, f.key_id)}
    <label>Job id<input name="job_id" value="${f.job_id}" placeholder="job_…" size="24"></label>
    ${rangeInputs(`${BASE}/ledger`, f, { key_id: f.key_id, job_id: f.job_id }, deps.now())}
    <button type="submit">Filter</button>
    <a href="${BASE}/ledger">Clear</a>
  </form>
</section>
<section class="panel">
  <div class="actions spaced-bottom"><a class="button secondary" id="export-ledger-csv" href="${BASE}/ledger.csv${q}" download>Export ledger CSV</a>${exportButtons({ from: f.from, to: f.to, key_id: f.key_id })}</div>
  ${ledgerTable('ledger-table', shown, names, { running, showKey: !f.key_id, showRequest: !running, empty: range.error ? 'Nothing to show: see the date range message above.' : undefined })}
  <div class="pager"><a href="${BASE}/ledger${q}">Newest</a>${more ? html`<a href="${BASE}/ledger${qs({ key_id: f.key_id, job_id: f.job_id, from: f.from, to: f.to, before: shown[shown.length - 1]!.seq })}">Older →</a>` : ''}</div>
</section>`,
      ),
    );
  });
}
