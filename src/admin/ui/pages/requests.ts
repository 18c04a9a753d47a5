import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import type { JobRow, LedgerRow } from '../../../db/billing-store.js';
import type { StoredRequestLogRow } from '../../../db/request-log-store.js';
import { actorLabel, BASE, emptyRow, keyLink, lookupLink, page, statusBadge, type Html, type KeyNames } from '../layout.js';
import { duration, field, time, timeMs, usd } from '../format.js';
import { keyDirectory, type UiEnv } from '../context.js';

interface Event {
  at: number;
  order: number;
  kind: 'ok' | 'bad' | '';
  what: Html | string;
  detail: Html | string;
}

function requestsTable(rows: StoredRequestLogRow[], id: string, names: KeyNames): Html {
  return html`<div class="table-wrap" tabindex="0"><table id="request-rows"><thead><tr><th>When</th><th>Request id</th><th>Call</th><th class="num">Status</th><th class="num">Took</th><th class="num">Upstream</th><th>Key</th><th>Video</th><th>Upstream / client id</th></tr></thead><tbody>
  ${rows.length === 0
    ? emptyRow(9, id ? 'No request-log rows match this id (rows are written within about a second).' : 'No requests yet.')
    : rows.map((r) => html`<tr><td>${time(r.createdAt)}</td><td>${lookupLink(r.requestId, false)}</td><td class="mono">${r.method} ${r.route}</td>
      <td class="num">${r.status}${r.errorCode ? html` <span class="badge bad">${r.errorCode}</span>` : ''}</td><td class="num">${duration(r.durationMs)}</td><td class="num">${duration(r.upstreamDurationMs)}</td>
      <td>${r.keyId ? keyLink(r.keyId, names) : ''}</td><td>${lookupLink(r.videoId)}</td>
      <td class="mono small wrap">${r.upstreamRequestId ?? '—'}${r.clientRequestId && r.clientRequestId !== r.requestId ? html`<div class="muted">client: ${r.clientRequestId}</div>` : ''}</td></tr>`)}
  </tbody></table></div>`;
}

function timeline(job: JobRow, rows: StoredRequestLogRow[], ledger: LedgerRow[], names: KeyNames): Event[] {
  const ev: Event[] = [{ at: job.createdAt, order: 0, kind: '', what: `Job created (${job.kind}, ${job.model}, ${job.size}, ${job.requestedSeconds}s requested)`, detail: `hold of ${usd(job.heldMicros)} placed by request ${job.requestId}` }];
  for (const r of rows) {
    const bad = r.status >= 400;
    ev.push({
      at: r.createdAt,
      order: 1,
      kind: bad ? 'bad' : '',
      what: html`<span class="mono">${r.method} ${r.route}</span> → ${r.status}${r.errorCode ? ` (${r.errorCode})` : ''}`,
      detail: html`request ${lookupLink(r.requestId, false)} · took ${duration(r.durationMs)}${r.upstreamDurationMs !== null ? ` · upstream ${duration(r.upstreamDurationMs)}` : ''}${r.upstreamRequestId ? ` · upstream id ${r.upstreamRequestId}` : ''}`,
    });
  }
  for (const e of ledger) {
    ev.push({
      at: e.createdAt,
      order: 3,
      kind: e.kind === 'capture' ? 'ok' : '',
      what: `Ledger: ${e.kind} ${usd(e.amountMicros)}`,
      detail: html`${e.note ?? ''}${e.note ? ' · ' : ''}by ${actorLabel(e.actor, names)}${e.requestId ? ` in request ${e.requestId}` : ''}`,
    });
  }
  if (job.settledAt !== null) {
    const failed = job.status !== 'completed';
    // The upstream's completed_at has whole seconds on the upstream's clock: told here, not sorted by.
    const finishedAt = job.status === 'completed' && job.completedAt !== null ? ` · upstream completed_at ${time(job.completedAt)} (${job.billedSeconds ?? 0}s generated, ${duration(Math.max(0, job.completedAt - job.createdAt))} after the create)` : '';
    ev.push({ at: job.settledAt, order: 4, kind: failed ? 'bad' : 'ok', what: html`Settled as ${statusBadge(job.status)}`, detail: `charged ${usd(job.chargedMicros)}${job.errorCode ? ` · ${job.errorCode}` : ''}${finishedAt}` });
  }
  if (job.lateCompletedAt !== null) ev.push({ at: job.lateCompletedAt, order: 5, kind: 'bad', what: 'Completion seen after the job expired', detail: `recorded, never charged · upstream completed_at ${time(job.completedAt)}` });
  if (job.deletedAt !== null) ev.push({ at: job.deletedAt, order: 6, kind: '', what: 'Video deleted by the client', detail: '' });
  return ev.sort((a, b) => a.at - b.at || a.order - b.order);
}

async function jobSection(deps: Deps, job: JobRow, names: KeyNames): Promise<Html> {
  const rows = await deps.store.requestLogForJob(job, 200);
  const entries = await deps.store.jobLedgerEntries(job.id);
  const archive = deps.archive ? await deps.store.getArchiveTask(job.id) : undefined;
  const archiveFact = !deps.archive
    ? 'off'
    : archive
      ? `${archive.state} · ${archive.bytes.toLocaleString('en-US')} bytes${archive.attempts > 0 ? ` · ${archive.attempts} failed attempt${archive.attempts === 1 ? '' : 's'}` : ''}`
      : '—';
  return html`<section class="panel" id="job-lifecycle">
  <h2>Job ${job.videoId ?? job.id} ${statusBadge(job.status)}</h2>
  <div class="grid">
    <dl class="facts">
      <dt>Video id</dt><dd class="mono">${job.videoId ?? '— (never accepted upstream)'}</dd>
      <dt>Job id</dt><dd class="mono">${job.id}</dd>
      <dt>Key</dt><dd>${keyLink(job.keyId, names, true)}</dd>
      <dt>Kind</dt><dd>${job.kind}${job.sourceVideoId ? html` of ${lookupLink(job.sourceVideoId)}` : ''}</dd>
      <dt>Model / size</dt><dd>${job.model} · ${job.size}</dd>
      <dt>Seconds</dt><dd>${job.requestedSeconds} requested · ${job.billedSeconds ?? '—'} billed</dd>
      <dt>Held / charged</dt><dd>${usd(job.heldMicros)} / ${usd(job.chargedMicros)}</dd>
    </dl>
    <dl class="facts">
      <dt>Request id</dt><dd class="mono">${job.requestId}</dd>
      <dt>Upstream request</dt><dd class="mono">${job.upstreamRequestId ?? '—'}</dd>
      <dt>Created</dt><dd>${time(job.createdAt)}</dd>
      <dt>Completed</dt><dd>${time(job.completedAt)}</dd>
      <dt>Settled</dt><dd>${time(job.settledAt)}</dd>
      <dt>Error</dt><dd>${job.errorCode ?? '—'}</dd>
      <dt>Progress</dt><dd>${job.progress === null ? '—' : `${job.progress}%`}</dd>
      <dt>Archive</dt><dd id="job-archive">${archiveFact}${archive?.lastError && archive.state !== 'archived' ? html`<div class="muted small">${archive.lastError}</div>` : ''}</dd>
    </dl>
  </div>
  <h3>Lifecycle</h3>
  <ol class="timeline">${timeline(job, rows, entries, names).map((e) => html`<li class="${e.kind}"><div class="when">${timeMs(e.at)}</div><div class="what">${e.what}</div><div class="muted">${e.detail}</div></li>`)}</ol>
</section>`;
}

export function registerRequestPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/requests', async (c) => {
    const id = field(c.req.query('id'), 512);
    let rows: StoredRequestLogRow[] = [];
    let job: JobRow | undefined;
    if (id) {
      rows = await deps.store.findRequestsByAnyId(id, { limit: 500 });
      const videoId = rows.find((r) => r.videoId !== null)?.videoId;
      job =
        (await deps.store.findJobByAnyId(id)) ??
        (videoId ? await deps.store.getJobByVideoId(videoId) : undefined) ??
        (await deps.store.findJobByCreateRequestId(rows.find((r) => r.method === 'POST')?.requestId ?? id));
    } else {
      // The dashboard's own page views are logged too; the recent list shows the API traffic.
      rows = (await deps.store.searchRequestLog({ limit: 300 }))
        .filter((r) => r.route.startsWith('/v1'))
        .slice(0, 25);
    }
    const { names } = await keyDirectory(deps);
    const lifecycle = job ? await jobSection(deps, job, names) : '';
    return c.html(
      page(
        c.get('session'),
        'requests',
        'Request lookup',
        html`<h1>Request lookup</h1>
<p class="sub">Any id: reelay's request id (x-request-id), the client's, the upstream's, a video id or a job id. A job's whole lifecycle is shown when the id belongs to one.</p>
<section class="panel">
  <form class="filters" method="get" action="${BASE}/requests">
    <label>Id<input name="id" value="${id}" size="60" placeholder="req_… · video_… · upstream request id" autofocus></label>
    <button type="submit">Look up</button>
  </form>
</section>
${id && !job && rows.length === 0 ? html`<div class="flash error" role="alert">Nothing found for ${id}.</div>` : ''}
${lifecycle}
<section class="panel"><h2>${id ? 'Matching requests' : 'Recent API requests'}</h2>${requestsTable(rows, id, names)}</section>`,
      ),
    );
  });
}
