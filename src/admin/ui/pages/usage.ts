import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import type { UsageGroupBy } from '../../../db/usage-store.js';
import { USAGE_GROUPS, usageSummary } from '../../usage-routes.js';
import { csvLine } from '../../export.js';
import { formatUsd, parseUsd } from '../../../money.js';
import { BASE, emptyRow, keyLink, keyPicker, page, type KeyNames } from '../layout.js';
import { barChart, hbarChart } from '../chart.js';
import { DAY_MS, daysBetween, field, qs, usd } from '../format.js';
import { keyDirectory, type UiContext, type UiEnv } from '../context.js';
import { presetRange, rangeInputs, rangeMessage, readRange, type Range } from '../range.js';

/** The usage summary (GET /admin/usage/summary) per key, model or day, with a chart and a CSV. */
const GROUP_LABELS: Record<UsageGroupBy, string> = { key: 'Key', model: 'Model', day: 'Day', upstream: 'Upstream' };
const MAX_DAY_BARS = 366;

interface UsageQuery {
  group_by: UsageGroupBy;
  key_id: string;
  from: string;
  to: string;
}

function readQuery(c: UiContext, now: number): UsageQuery {
  const g = c.req.query('group_by');
  const given = { from: field(c.req.query('from'), 40), to: field(c.req.query('to'), 40) };
  // Without dates, the last 30 days (shown in the form, so the page says what it sums).
  const dates = given.from || given.to ? given : presetRange('30d', now);
  return { group_by: (USAGE_GROUPS as readonly string[]).includes(g ?? '') ? (g as UsageGroupBy) : 'key', key_id: field(c.req.query('key_id')), ...dates };
}

async function summaryOf(deps: Deps, q: UsageQuery, range: Range) {
  return usageSummary(deps.store, { from: range.from, to: range.to, keyId: q.key_id || undefined }, q.group_by);
}

type Summary = Awaited<ReturnType<typeof summaryOf>>;

function groupLabel(g: Summary['data'][number], q: UsageQuery, names: KeyNames): string {
  return q.group_by === 'key' ? (names.get(g.group) ?? g.key_name ?? g.group) : g.group;
}

function chartOf(s: Summary, q: UsageQuery, range: Range, names: KeyNames) {
  const amount = (g: Summary['data'][number]) => parseUsd(g.amount_usd);
  const fmt = (v: number) => usd(Math.round(v));
  if (q.group_by === 'day' && range.from !== undefined && range.to !== undefined && (range.to - range.from) / DAY_MS <= MAX_DAY_BARS) {
    const byDay = new Map(s.data.map((g) => [g.group, g]));
    const points = daysBetween(range.from, range.to).map((day) => {
      const g = byDay.get(day);
      return { label: day, value: g ? amount(g) : 0, title: `${day}: ${g ? `${usd(amount(g))}, ${g.jobs} jobs` : 'no jobs'}` };
    });
    return barChart(points, { ariaLabel: 'Amount charged per day', format: fmt, minStep: 10_000, id: 'usage-chart', width: 1000, height: 260 });
  }
  const points = [...s.data]
    .sort((a, b) => amount(b) - amount(a))
    .slice(0, 15)
    .map((g) => ({ label: groupLabel(g, q, names), value: amount(g), title: `${groupLabel(g, q, names)}: ${usd(amount(g))}, ${g.jobs} jobs` }));
  return hbarChart(points, { ariaLabel: `Amount charged per ${q.group_by} (the top 15)`, format: fmt, id: 'usage-chart', width: 1000 });
}

export function registerUsagePage(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/usage', async (c) => {
    const now = deps.now();
    const q = readQuery(c, now);
    const range = readRange(q);
    const { list, names } = await keyDirectory(deps);
    const s = range.error ? null : await summaryOf(deps, q, range);
    const action = `${BASE}/usage`;
    return c.html(
      page(
        c.get('session'),
        'usage',
        'Usage',
        html`<h1>Usage</h1>
<p class="sub">Jobs submitted in the range (UTC), grouped by key, model or day of submission: what was charged for them (failed and expired jobs are free). The same numbers as <span class="mono">GET /admin/usage/summary</span>.</p>
${rangeMessage(range)}
<section class="panel">
  <form class="filters" method="get" action="${action}">
    <label>Group by<select name="group_by">${USAGE_GROUPS.map((g) => html`<option value="${g}"${g === q.group_by ? ' selected' : ''}>${GROUP_LABELS[g].toLowerCase()}</option>`)}</select></label>
    ${keyPicker(list, q.key_id)}
    ${rangeInputs(action, q, { group_by: q.group_by, key_id: q.key_id }, now)}
    <button type="submit">Show</button>
  </form>
</section>
${s === null
  ? ''
  : html`<section class="panel">
  <div class="actions spaced-bottom"><a class="button secondary" id="usage-csv" href="${BASE}/usage.csv${qs({ ...q })}" download>Download CSV</a>
  <span class="muted">${s.total.jobs} jobs · ${s.total.charged_jobs} charged · ${s.total.billed_seconds} s billed · <strong id="usage-total">${usd(parseUsd(s.total.amount_usd))}</strong></span></div>
  ${s.data.length === 0 ? '' : chartOf(s, q, range, names)}
  <div class="table-wrap" tabindex="0"><table id="usage-table"><thead><tr><th>${GROUP_LABELS[q.group_by]}</th><th class="num">Jobs</th><th class="num">Charged jobs</th><th class="num">Billed seconds</th><th class="num">Amount</th></tr></thead><tbody>
  ${s.data.length === 0
    ? emptyRow(5, 'No jobs in this range.')
    : s.data.map((g) => html`<tr><td>${q.group_by === 'key' ? keyLink(g.group, names) : g.group}</td><td class="num">${g.jobs}</td><td class="num">${g.charged_jobs}</td><td class="num">${g.billed_seconds}</td><td class="num">${usd(parseUsd(g.amount_usd))}</td></tr>`)}
  </tbody><tfoot><tr><th scope="row">Total</th><td class="num">${s.total.jobs}</td><td class="num">${s.total.charged_jobs}</td><td class="num">${s.total.billed_seconds}</td><td class="num">${usd(parseUsd(s.total.amount_usd))}</td></tr></tfoot></table></div>
</section>`}`,
      ),
    );
  });

  app.get('/usage.csv', async (c) => {
    const q = readQuery(c, deps.now());
    const range = readRange(q);
    if (range.error) return c.text(range.error, 400);
    const s = await summaryOf(deps, q, range);
    const { names } = await keyDirectory(deps);
    let text = csvLine([q.group_by, ...(q.group_by === 'key' ? ['key_name'] : []), 'jobs', 'charged_jobs', 'billed_seconds', 'amount_usd']);
    for (const g of s.data) {
      text += csvLine([g.group, ...(q.group_by === 'key' ? [names.get(g.group) ?? g.key_name ?? null] : []), g.jobs, g.charged_jobs, g.billed_seconds, g.amount_usd]);
    }
    text += csvLine(['total', ...(q.group_by === 'key' ? [null] : []), s.total.jobs, s.total.charged_jobs, s.total.billed_seconds, formatUsd(parseUsd(s.total.amount_usd))]);
    c.header('content-type', 'text/csv; charset=utf-8');
    c.header('content-disposition', `attachment; filename="reelay-usage-summary-by-${q.group_by}-${q.from || 'start'}-to-${q.to || 'now'}.csv"`);
    return c.body(text);
  });
}
