import { html } from 'hono/html';
import type { Deps } from '../../../deps.js';
import type { KeySort } from '../../../db/keys-store.js';
import { BASE, csrfField, emptyRow, keyState, page, type Html } from '../layout.js';
import { qs, time, usd } from '../format.js';
import type { Session } from '../session.js';

/** The keys page: search, sort, pages, low-balance flags, and the create form. */
const PAGE = 50;

export interface KeyListQuery {
  q: string;
  sort: KeySort;
  dir: 'asc' | 'desc';
  page: number;
  low: boolean;
}

const SORTS: [KeySort, string][] = [
  ['name', 'Name'],
  ['created', 'Created'],
  ['available', 'Available'],
  ['last_used', 'Last used'],
];

export function readKeyListQuery(get: (name: string) => string | undefined): KeyListQuery {
  const sort = SORTS.find(([s]) => s === get('sort'))?.[0] ?? 'created';
  const dir = get('dir') === 'asc' ? 'asc' : get('dir') === 'desc' ? 'desc' : sort === 'name' ? 'asc' : 'desc';
  const n = Number(get('page'));
  return { q: (get('q') ?? '').trim().slice(0, 200), sort, dir, page: Number.isSafeInteger(n) && n > 1 ? n : 1, low: get('low') === '1' };
}

const link = (l: KeyListQuery, patch: Partial<KeyListQuery>) => {
  const m = { ...l, ...patch };
  return `${BASE}/keys${qs({ q: m.q, sort: m.sort, dir: m.dir, page: m.page > 1 ? m.page : undefined, low: m.low ? '1' : undefined })}`;
};

/** A sortable column heading: a link that sorts by it, or flips the direction when it already does. */
function sortHead(l: KeyListQuery, sort: KeySort, label: string, num = false): Html {
  const on = l.sort === sort;
  const next = on ? (l.dir === 'asc' ? 'desc' : 'asc') : sort === 'name' ? 'asc' : 'desc';
  return html`<th class="${num ? 'num ' : ''}sortable"${on ? html` aria-sort="${l.dir === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${link(l, { sort, dir: next, page: 1 })}" data-sort="${sort}">${label}${on ? (l.dir === 'asc' ? ' ▲' : ' ▼') : ''}</a></th>`;
}

export interface CreateForm {
  name: string;
  credit_usd: string;
  allowed_models: string;
  rpm_limit: string;
  max_inflight_jobs: string;
  max_concurrent_downloads: string;
  expires_at: string;
}
export const EMPTY_FORM: CreateForm = { name: '', credit_usd: '', allowed_models: '', rpm_limit: '', max_inflight_jobs: '', max_concurrent_downloads: '', expires_at: '' };

function createForm(session: Session, f: CreateForm, error: string | null): Html {
  return html`<section class="panel" id="create-key">
  <h2>Create a key</h2>
  ${error ? html`<div class="flash error" role="alert">${error}</div>` : ''}
  <form class="stacked" method="post" action="${BASE}/keys">
    ${csrfField(session)}
    <label>Name<input name="name" required maxlength="200" value="${f.name}" placeholder="e.g. acme-production"></label>
    <div class="row">
      <label>Initial credit (USD)<input name="credit_usd" inputmode="decimal" value="${f.credit_usd}" placeholder="10.00"></label>
      <label>Expires (YYYY-MM-DD, UTC)<input name="expires_at" value="${f.expires_at}" placeholder="YYYY-MM-DD" autocomplete="off"></label>
    </div>
    <label>Allowed models (comma separated; empty = all)<input name="allowed_models" value="${f.allowed_models}" placeholder="sora-2, sora-2-pro"></label>
    <div class="row">
      <label>Requests per minute<input name="rpm_limit" inputmode="numeric" value="${f.rpm_limit}" placeholder="no limit"></label>
      <label>Max jobs in flight<input name="max_inflight_jobs" inputmode="numeric" value="${f.max_inflight_jobs}" placeholder="no limit"></label>
      <label>Concurrent downloads<input name="max_concurrent_downloads" inputmode="numeric" value="${f.max_concurrent_downloads}" placeholder="default (8)"></label>
    </div>
    <div><button type="submit">Create key</button></div>
  </form>
</section>`;
}

export async function keysList(deps: Deps, session: Session, l: KeyListQuery, form: CreateForm, error: string | null): Promise<Html> {
  const now = deps.now();
  const threshold = deps.config.lowBalanceMicros;
  const { rows, total } = await deps.store.searchKeys({
    q: l.q || undefined,
    sort: l.sort,
    dir: l.dir,
    lowBelow: l.low ? { micros: threshold, now } : undefined,
    offset: (l.page - 1) * PAGE,
    limit: PAGE,
  });
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const usable = (k: { revokedAt: number | null; disabled: boolean; expiresAt: number | null }) => k.revokedAt === null && !k.disabled && (k.expiresAt === null || k.expiresAt > now);
  return page(
    session,
    'keys',
    'Keys',
    html`<h1>Keys</h1>
<p class="sub">Balances in USD. Active keys with less than ${usd(threshold)} available (LOW_BALANCE_USD) are flagged <span class="badge warn">low</span>. The secret of a key is shown once, right after it is created.</p>
<section class="panel">
  <form class="filters spaced-bottom" method="get" action="${BASE}/keys" role="search">
    <label>Search<input name="q" value="${l.q}" placeholder="name, or id prefix (key_…)" size="28"></label>
    <input type="hidden" name="sort" value="${l.sort}"><input type="hidden" name="dir" value="${l.dir}">
    <label class="check"><input type="checkbox" name="low" value="1"${l.low ? ' checked' : ''}> Only low balance</label>
    <button type="submit">Search</button>
    <a href="${BASE}/keys">Clear</a>
  </form>
  <div class="table-wrap" tabindex="0"><table id="keys-table"><thead><tr>${sortHead(l, 'name', 'Name')}<th>Prefix</th><th>State</th><th class="num">Balance</th><th class="num">Held</th>${sortHead(l, 'available', 'Available', true)}${sortHead(l, 'last_used', 'Last used')}${sortHead(l, 'created', 'Created')}</tr></thead><tbody>
  ${rows.length === 0 ? emptyRow(8, l.q || l.low ? 'No key matches.' : 'No keys yet.') : rows.map((k) => {
    const available = k.balanceMicros - k.heldMicros;
    const low = usable(k) && available < threshold;
    return html`<tr data-key="${k.id}"${low ? html` class="low"` : ''}>
    <td class="wrap"><div><a href="${BASE}/keys/${encodeURIComponent(k.id)}" title="${k.id}">${k.name}</a></div><div class="mono muted small">${k.id}</div></td><td class="mono">${k.prefix}</td><td>${keyState(k, now)}</td>
    <td class="num">${usd(k.balanceMicros)}</td><td class="num">${usd(k.heldMicros)}</td><td class="num">${usd(available)}${low ? html` <span class="badge warn" title="under ${usd(threshold)} available">low</span>` : ''}</td>
    <td>${time(k.lastUsedAt)}</td><td>${time(k.createdAt)}</td></tr>`;
  })}
  </tbody></table></div>
  <div class="pager"><span>${l.page > 1 ? html`<a href="${link(l, { page: l.page - 1 })}" rel="prev">← Previous</a>` : ''}</span>
  <span class="muted" id="keys-count">${total} ${total === 1 ? 'key' : 'keys'} · page ${l.page} of ${pages}</span>
  <span>${l.page < pages ? html`<a href="${link(l, { page: l.page + 1 })}" rel="next">Next →</a>` : ''}</span></div>
</section>
${createForm(session, form, error)}`,
  );
}
