import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import type { ModelDayHealth } from '../../../db/dashboard-store.js';
import { BASE, emptyRow, page, pageHead, windowPicker, type Html } from '../layout.js';
import { barChart, lineChart, TIME_STEPS } from '../chart.js';
import { daysBetween, duration, lastDays, percent, windowDays, WINDOWS } from '../format.js';
import type { UiEnv } from '../context.js';

/** Failures the provider is answerable for; a client's own 4xx rejections are not counted. */
const failures = (d: ModelDayHealth) => d.failed + d.expired + d.unknown + d.rejectedUpstream;
const finished = (d: ModelDayHealth) => d.jobs - d.open;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const FAILURE_BAD = 0.1;
const P95_SLOW = 1.5;

/** Today's (or the latest day's) numbers against the rest of the window. */
function assess(days: ModelDayHealth[]): { badge: Html; reasons: string[] } {
  const latest = days[days.length - 1];
  if (!latest) return { badge: html`<span class="badge">no data</span>`, reasons: [] };
  const reasons: string[] = [];
  const fin = finished(latest);
  if (fin > 0 && failures(latest) / fin >= FAILURE_BAD) reasons.push(`${percent(failures(latest), fin)} of the jobs of ${latest.day} failed`);
  const base = median(days.slice(0, -1).map((d) => d.genP95Ms).filter((v): v is number => v !== null));
  if (base !== null && latest.genP95Ms !== null && latest.genP95Ms > base * P95_SLOW) {
    reasons.push(`p95 time to complete on ${latest.day} is ${duration(latest.genP95Ms)}, against a median of ${duration(base)} on the days before`);
  }
  const badge = reasons.length === 0 ? html`<span class="badge ok">healthy</span>` : html`<span class="badge bad">degraded</span>`;
  return { badge, reasons };
}

function rateClass(d: ModelDayHealth): string {
  const fin = finished(d);
  if (fin === 0) return '';
  const r = failures(d) / fin;
  return r >= FAILURE_BAD ? 'bad' : r >= 0.03 ? 'warn' : 'ok';
}

function modelSection(model: string, rows: ModelDayHealth[], allDays: string[]): Html {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const { badge, reasons } = assess(rows);
  const p = (day: string, pick: (d: ModelDayHealth) => number | null, name: string) => {
    const d = byDay.get(day);
    const v = d ? pick(d) : null;
    return { label: day, value: v, title: `${day} ${name}: ${v === null ? 'no data' : duration(v)}` };
  };
  const failPoints = allDays.map((day) => {
    const d = byDay.get(day);
    const fin = d ? finished(d) : 0;
    const v = d && fin > 0 ? (1000 * failures(d)) / fin : 0; // per mille for the geometry
    return { label: day, value: v, title: `${day}: ${d ? `${failures(d)} of ${fin} finished jobs failed (${percent(failures(d), fin)})` : 'no jobs'}` };
  });
  const total = rows.reduce((a, d) => ({ jobs: a.jobs + d.jobs, fin: a.fin + finished(d), fail: a.fail + failures(d) }), { jobs: 0, fin: 0, fail: 0 });
  return html`<section class="panel model-health" data-model="${model}">
  <h2>${model} ${badge} <span class="muted">· ${total.jobs} jobs, ${percent(total.fail, total.fin)} failed</span></h2>
  ${reasons.length ? html`<div class="flash error" role="alert">${reasons.join('; ')}.</div>` : ''}
  <div class="grid">
    <div><h3>Time to complete</h3>
      <div class="legend"><span><i class="p50"></i>p50</span><span><i class="p95"></i>p95</span></div>
      ${lineChart(
        [
          { name: 'p50', points: allDays.map((d) => p(d, (x) => x.genP50Ms, 'p50')) },
          { name: 'p95', points: allDays.map((d) => p(d, (x) => x.genP95Ms, 'p95')) },
        ],
        { ariaLabel: `${model}: time to complete, p50 and p95 per day`, format: (v) => (v === 0 ? '0' : duration(v).replace(/ 0[sm]$/, '')), minStep: 1000, steps: TIME_STEPS, width: 560, height: 220 },
      )}
    </div>
    <div><h3>Failure rate</h3>
      <div class="legend"><span><i class="fail"></i>failed, expired, unknown or refused by the upstream, of the finished jobs</span></div>
      ${barChart(failPoints, { ariaLabel: `${model}: failure rate per day`, format: (v) => `${Math.round(v / 10)}%`, minStep: 50, width: 560, height: 220, barClass: 'bad' })}
    </div>
  </div>
  <div class="table-wrap" tabindex="0"><table class="health-table"><thead>
    <tr><th></th><th></th><th colspan="6" class="group">Outcomes</th><th></th><th colspan="2" class="group">Time to complete</th><th colspan="2" class="group">Create answered in</th></tr>
    <tr><th>Day (UTC)</th><th class="num">Jobs</th><th class="num">Done</th><th class="num">Failed</th><th class="num">Expired</th><th class="num">Unknown</th><th class="num" title="refused by the upstream (5xx, 429, connection) / all refusals">Rejected</th><th class="num">Open</th><th class="num">Failure rate</th><th class="num">p50</th><th class="num">p95</th><th class="num">p50</th><th class="num">p95</th></tr>
  </thead><tbody>
  ${[...rows].reverse().map((d) => html`<tr><td>${d.day}</td><td class="num">${d.jobs}</td><td class="num">${d.completed}</td><td class="num">${d.failed}</td><td class="num">${d.expired}</td><td class="num">${d.unknown}</td>
    <td class="num">${d.rejectedUpstream} / ${d.rejected}</td><td class="num">${d.open}</td><td class="num"><span class="badge ${rateClass(d)}">${percent(failures(d), finished(d))}</span></td>
    <td class="num">${duration(d.genP50Ms)}</td><td class="num">${duration(d.genP95Ms)}</td><td class="num">${duration(d.createP50Ms)}</td><td class="num">${duration(d.createP95Ms)}</td></tr>`)}
  </tbody></table></div>
</section>`;
}

export function registerHealthPage(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/health', async (c) => {
    const days = windowDays(c.req.query('days'), 7);
    const range = lastDays(deps.now(), days);
    const rows = await deps.store.modelHealth(range);
    const models = [...new Set(rows.map((r) => r.model))];
    const allDays = daysBetween(range.from, range.to);
    return c.html(
      page(
        c.get('session'),
        'health',
        'Upstream health',
        html`${pageHead('Upstream health', 'Per model and UTC day of submission. Time to complete includes the time spent queued: reelay does not record queue time separately.', windowPicker(`${BASE}/health`, days, WINDOWS))}
<details class="panel explain"><summary>How these numbers are made</summary><ul>
  <li><strong>Time to complete</strong> runs from reelay accepting the create to the upstream's <code>completed_at</code> (whole seconds, the upstream's clock).
  It includes the time spent queued: reelay does not record when a job leaves the queue, so there is no separate queue time.</li>
  <li><strong>Create answered in</strong> is how long the upstream took to answer the create request (from the request log).</li>
  <li><strong>Failure rate</strong> is failed, expired, unknown and upstream-refused jobs over the finished ones. <strong>Rejected</strong> shows the creates the
  upstream refused for its own reasons (5xx, 429, no connection) / all refused creates; a client's own 4xx is not the provider's failure.</li>
  <li>A model is flagged <span class="badge bad">degraded</span> when its latest day's failure rate is ${Math.round(FAILURE_BAD * 100)}% or more, or its p95 time
  to complete is over ${P95_SLOW}× the median p95 of the days before.</li>
</ul></details>
${models.length === 0 ? html`<section class="panel"><table><tbody>${emptyRow(1, 'No jobs in this window.')}</tbody></table></section>` : models.map((m) => modelSection(m, rows.filter((r) => r.model === m), allDays))}`,
      ),
    );
  });
}
