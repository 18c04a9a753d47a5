import { html } from 'hono/html';
import type { Deps } from '../../../deps.js';
import { BASE, emptyRow, keyLink, kindBadge, lookupLink, pageHead, statusBadge, windowPicker, type Html } from '../layout.js';
import { barChart, shareBar } from '../chart.js';
import { daysBetween, duration, lastDays, qs, usd, WINDOWS } from '../format.js';
import { keyDirectory } from '../context.js';

/** Overview: spend per day, jobs by status, top keys by spend, keys running low, open holds. */
export async function overviewPage(deps: Deps, days: number): Promise<Html> {
  const now = deps.now();
  const range = lastDays(now, days);
  const store = deps.store;
  const spend = new Map((await store.spendPerDay(range)).map((d) => [d.day, d]));
  const byStatus = await store.jobsByStatus(range);
  const top = await store.topKeysBySpend(range, 10);
  const holds = await store.openHolds(20);
  const keys = await store.keyTotals(now);
  const threshold = deps.config.lowBalanceMicros;
  const low = await store.searchKeys({ lowBelow: { micros: threshold, now }, sort: 'available', dir: 'asc', offset: 0, limit: 10 });
  const { names } = await keyDirectory(deps);

  const totalSpend = [...spend.values()].reduce((a, d) => a + d.spentMicros, 0);
  const totalJobs = byStatus.reduce((a, s) => a + s.n, 0);
  const points = daysBetween(range.from, range.to).map((day) => {
    const d = spend.get(day);
    const v = d?.spentMicros ?? 0;
    return { label: day, value: v, title: `${day}: ${usd(v)} over ${d?.captures ?? 0} charged jobs` };
  });

  return html`${pageHead('Overview', `Last ${days} days, UTC. Spend is the money captured from keys when their jobs settled.`, windowPicker(BASE, days, WINDOWS))}
<div class="cards">
  <div class="card"><div class="label">Spend (${days} days)</div><div class="value" id="total-spend">${usd(totalSpend)}</div><div class="hint">captured from all keys</div></div>
  <div class="card"><div class="label">Jobs submitted</div><div class="value">${totalJobs}</div><div class="hint">in the window</div></div>
  <div class="card"><div class="label">Open holds</div><div class="value">${usd(holds.heldMicros)}</div><div class="hint">${holds.count} open ${holds.count === 1 ? 'job' : 'jobs'}</div></div>
  <div class="card"><div class="label">Active keys</div><div class="value">${keys.active}</div><div class="hint" id="active-balances">of ${keys.keys} keys; the active keys hold ${usd(keys.balanceMicros)} (${usd(keys.balanceMicros - keys.heldMicros)} available)</div></div>
  <div class="card${low.total > 0 ? ' alert' : ''}"><div class="label">Low balance</div><div class="value" id="low-count">${low.total}</div><div class="hint">active ${low.total === 1 ? 'key' : 'keys'} under ${usd(threshold)} available</div></div>
</div>
<section class="panel">
  <h2>Spend per day</h2>
  ${barChart(points, { ariaLabel: `Spend per day over the last ${days} days`, format: (v) => usd(Math.round(v)), minStep: 10_000, id: 'spend-chart', width: 1000, height: 280 })}
</section>
<div class="grid">
  <section class="panel">
    <h2>Jobs by status</h2>
    <div class="table-wrap" tabindex="0"><table id="jobs-by-status"><thead><tr><th>Status</th><th class="num">Jobs</th><th>Share</th></tr></thead><tbody>
    ${byStatus.length === 0 ? emptyRow(3, 'No jobs in this window.') : byStatus.map((s) => html`<tr><td><a href="${BASE}/jobs?status=${encodeURIComponent(s.status)}">${statusBadge(s.status)}</a></td><td class="num">${s.n}</td><td>${shareBar(s.n, totalJobs)}</td></tr>`)}
    </tbody></table></div>
  </section>
  <section class="panel">
    <h2>Top keys by spend</h2>
    <div class="table-wrap" tabindex="0"><table id="top-keys"><thead><tr><th>Key</th><th class="num">Jobs</th><th class="num">Spend</th></tr></thead><tbody>
    ${top.length === 0 ? emptyRow(3, 'Nothing charged in this window.') : top.map((k) => html`<tr><td class="wrap">${keyLink(k.keyId, names, true)}</td><td class="num">${k.jobs}</td><td class="num">${usd(k.spentMicros)}</td></tr>`)}
    </tbody></table></div>
  </section>
  <section class="panel" id="low-balance">
    <h2>Low balance <span class="muted">(under ${usd(threshold)} available)</span></h2>
    <div class="table-wrap" tabindex="0"><table id="low-keys"><thead><tr><th>Key</th><th class="num">Available</th><th class="num">Held</th></tr></thead><tbody>
    ${low.rows.length === 0
      ? emptyRow(3, 'No active key is running low.')
      : low.rows.map((k) => html`<tr><td class="wrap">${keyLink(k.id, names, true)}</td><td class="num"><span class="badge warn">${usd(k.balanceMicros - k.heldMicros)}</span></td><td class="num">${usd(k.heldMicros)}</td></tr>`)}
    </tbody></table></div>
    ${low.total > low.rows.length ? html`<p><a href="${BASE}/keys${qs({ low: '1' })}">All ${low.total} low keys →</a></p>` : ''}
    <p class="muted small">The threshold is LOW_BALANCE_USD. Revoked, disabled and expired keys are not counted.</p>
  </section>
</div>
<section class="panel spaced">
  <h2>Open holds <span class="muted">(${holds.count} ${holds.count === 1 ? 'job' : 'jobs'}, ${usd(holds.heldMicros)}; oldest first)</span></h2>
  <div class="table-wrap" tabindex="0"><table id="open-holds"><thead><tr><th>Video / job</th><th>Key</th><th>Kind</th><th>Model</th><th>Status</th><th class="num">Held</th><th class="num">Age</th></tr></thead><tbody>
  ${holds.jobs.length === 0 ? emptyRow(7, 'No open jobs.') : holds.jobs.map((j) => html`<tr><td>${lookupLink(j.videoId ?? j.id)}</td><td>${keyLink(j.keyId, names)}</td><td>${kindBadge(j.kind)}</td><td>${j.model}</td><td>${statusBadge(j.status)}</td><td class="num">${usd(j.heldMicros)}</td><td class="num">${duration(now - j.createdAt)}</td></tr>`)}
  </tbody></table></div>
</section>`;
}
