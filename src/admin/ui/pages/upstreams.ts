import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { listUpstreams, setUpstreamEnabled, type UpstreamView } from '../../upstreams-routes.js';
import { csrfField, emptyRow, notFoundPage, page, pageHead, BASE, type Html } from '../layout.js';
import { flash, formOf, seeOther, who, type UiEnv } from '../context.js';
import type { Session } from '../session.js';

/**
 * The Upstreams page (contract §10): every provider account reelay routes to, from the same
 * function that serves GET /admin/upstreams, with an enable/disable button that changes and audits
 * the state exactly as PATCH /admin/upstreams/{id} does (actor admin-ui). A manual disable is never
 * undone automatically.
 */

function stateBadge(state: UpstreamView['state']): Html {
  const kind = state === 'ok' ? 'ok' : state === 'cooling_down' ? 'warn' : 'bad';
  return html`<span class="badge ${kind}">${state}</span>`;
}

const seconds = (s: number | null) => (s === null ? '—' : `${s} s`);
const isoTime = (iso: string | null) => (iso === null ? '—' : iso.replace('T', ' ').slice(0, 19));

function row(u: UpstreamView, session: Session): Html {
  const action =
    u.state === 'removed'
      ? html`<span class="muted small">no longer in the file</span>`
      : html`<form method="post" action="${BASE}/upstreams/${encodeURIComponent(u.id)}/enabled">${csrfField(session)}<input type="hidden" name="enabled" value="${u.enabled ? 'false' : 'true'}"><button type="submit" class="${u.enabled ? 'danger' : 'secondary'}" aria-label="${u.enabled ? 'Disable' : 'Enable'} ${u.id}">${u.enabled ? 'Disable' : 'Enable'}</button></form>`;
  const where =
    u.state === 'removed'
      ? html`<div class="muted small">jobs refer to it; the file no longer lists it</div>`
      : html`<div><span class="mono muted small trunc" title="${u.base_url ?? ''}">${u.base_url ?? ''}</span></div><div class="muted small">priority ${u.priority} · weight ${u.weight} · ${u.models === null ? 'every priced model' : u.models.join(', ')}</div>`;
  return html`<tr data-upstream="${u.id}"><td><div><strong class="mono">${u.id}</strong></div>${where}</td>
  <td><span class="state">${stateBadge(u.state)}</span>${u.cooldown_until === null ? '' : html`<div class="muted small">until <span class="cooldown-until">${isoTime(u.cooldown_until)}</span></div>`}</td>
  <td class="num inflight">${u.inflight_jobs}${u.max_inflight_jobs === null ? '' : html` / ${u.max_inflight_jobs}`}</td>
  <td class="num jobs-24h">${u.jobs_24h}</td><td class="num failed-24h">${u.failed_24h}</td>
  <td class="num">${seconds(u.p50_seconds_to_complete)}</td><td class="num">${seconds(u.p95_seconds_to_complete)}</td>
  <td class="wrap last-error">${u.last_error ?? html`<span class="muted">—</span>`}</td>
  <td>${action}</td></tr>`;
}

export function registerUpstreamsPage(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/upstreams', async (c) => {
    const session = c.get('session');
    const upstreams = await listUpstreams(deps);
    const source = deps.config.upstreamsFile
      ? html`from <span class="mono">${deps.config.upstreamsFile}</span> (UPSTREAMS_FILE)`
      : html`the single <span class="mono">default</span> upstream from UPSTREAM_BASE_URL (no UPSTREAMS_FILE is set)`;
    return c.html(
      page(
        session,
        'upstreams',
        'Upstreams',
        html`${pageHead('Upstreams', html`The provider accounts reelay routes creates to, ${source}. Jobs, failures and times to complete count the jobs each took in the last 24 hours; in flight counts its open jobs on every instance.`)}
<section class="panel">
  <div class="table-wrap" tabindex="0"><table id="upstreams-table"><thead><tr><th>Upstream</th><th>State</th><th class="num" title="open jobs / max_inflight_jobs">In flight</th><th class="num">Jobs 24 h</th><th class="num" title="failed, expired or unknown">Failed 24 h</th><th class="num">p50 to complete</th><th class="num">p95 to complete</th><th>Last error</th><th>Action</th></tr></thead><tbody>
  ${upstreams.length === 0 ? emptyRow(9, 'No upstreams.') : upstreams.map((u) => row(u, session))}
  </tbody></table></div>
  <p class="muted small">A disabled upstream takes no new jobs, but its existing jobs are still polled and served through it. A manual disable is never undone automatically; cooling down ends by itself.</p>
</section>`,
      ),
    );
  });

  // The same change and audit entry as PATCH /admin/upstreams/{id}.
  app.post('/upstreams/:id/enabled', async (c) => {
    const id = c.req.param('id');
    if (!deps.upstreams.get(id)) return c.html(notFoundPage(c.get('session')), 404);
    const value = formOf(c).get('enabled');
    if (value !== 'true' && value !== 'false') {
      flash(c, 'error', 'enabled must be true or false.');
      return seeOther(c, `${BASE}/upstreams`);
    }
    const enabled = value === 'true';
    await setUpstreamEnabled(deps, id, enabled, who(c, deps));
    flash(c, 'ok', `Upstream ${id} ${enabled ? 'enabled: it takes new jobs again' : 'disabled: it takes no new jobs until it is enabled again'}.`);
    return seeOther(c, `${BASE}/upstreams`);
  });
}
