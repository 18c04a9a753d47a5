import { html } from 'hono/html';
import type { Session } from './session.js';

/**
 * Page shell and small building blocks. Everything goes through hono/html, which escapes every
 * interpolated value; `raw()` is never used on data.
 */
export type Html = ReturnType<typeof html>;

export const BASE = '/admin/ui';

const NAV: [string, string, string][] = [
  ['overview', 'Overview', `${BASE}`],
  ['keys', 'Keys', `${BASE}/keys`],
  ['jobs', 'Jobs', `${BASE}/jobs`],
  ['ledger', 'Ledger', `${BASE}/ledger`],
  ['usage', 'Usage', `${BASE}/usage`],
  ['requests', 'Request lookup', `${BASE}/requests`],
  ['health', 'Upstream health', `${BASE}/health`],
  ['upstreams', 'Upstreams', `${BASE}/upstreams`],
  ['audit', 'Audit', `${BASE}/audit`],
  ['pricing', 'Pricing', `${BASE}/pricing`],
];

/** The tab icon: a small play mark, served as an SVG (same origin, so the CSP allows it). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#151b2c"/><path d="M12 9v14l11-7z" fill="#8fb3ff"/></svg>`;

function shell(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · reelay admin</title>
<link rel="icon" type="image/svg+xml" href="${BASE}/favicon.svg">
<link rel="stylesheet" href="${BASE}/assets/style.css">
</head>
<body>
${body}
</body>
</html>`;
}

/** A page of the signed-in dashboard; shows (and consumes) the session's flash messages. */
export function page(session: Session, active: string, title: string, content: Html): Html {
  const flashes = session.flash.splice(0);
  // A new key's secret lives only until the next page is shown (the key's page reads it first).
  session.revealOnce = null;
  return shell(
    title,
    html`<a class="skip" href="#main">Skip to content</a>
<header class="top"><div class="bar">
  <a class="brand" href="${BASE}">reelay <span>admin</span></a>
  <nav aria-label="Dashboard">${NAV.map(([id, label, href]) => html`<a href="${href}"${id === active ? html` class="active" aria-current="page"` : ''}>${label}</a>`)}</nav>
  <form method="post" action="${BASE}/logout">${csrfField(session)}<button type="submit">Log out</button></form>
</div></header>
<main id="main" tabindex="-1">
${flashes.map((f) => html`<div class="flash ${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">${f.text}</div>`)}
${content}
</main>`,
  );
}

/** A page without the navigation (login, errors before a session exists). */
export function barePage(title: string, content: Html): Html {
  return shell(title, html`<main>${content}</main>`);
}

export function csrfField(session: Session): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}

export function statusBadge(status: string): Html {
  const kind =
    status === 'completed' ? 'ok' : status === 'failed' || status === 'unknown' || status === 'expired' ? 'bad' : status === 'rejected' ? 'warn' : 'info';
  return html`<span class="badge ${kind}">${status}</span>`;
}

export function keyState(k: { revokedAt: number | null; disabled: boolean; expiresAt: number | null }, now: number): Html {
  if (k.revokedAt !== null) return html`<span class="badge bad">revoked</span>`;
  if (k.disabled) return html`<span class="badge warn">disabled</span>`;
  if (k.expiresAt !== null && k.expiresAt <= now) return html`<span class="badge warn">expired</span>`;
  return html`<span class="badge ok">active</span>`;
}

/** Key id → name, for showing names instead of ids (see keyDirectory). */
export type KeyNames = ReadonlyMap<string, string>;

/** A link to a key, shown by its name with the id on hover; by its id when the name is unknown. */
export const keyLink = (keyId: string, names: KeyNames, withId = false): Html => {
  const name = names.get(keyId);
  const href = `${BASE}/keys/${encodeURIComponent(keyId)}`;
  if (name === undefined) return html`<a class="mono trunc" title="${keyId}" href="${href}">${keyId}</a>`;
  // With the id below, the link sits in its own block, so it is not a link inside running text.
  if (withId) return html`<div><a class="keyname" title="${keyId}" href="${href}">${name}</a></div><div class="mono muted small">${keyId}</div>`;
  return html`<a class="keyname" title="${keyId}" href="${href}">${name}</a>`;
};

/** Who made a change or moved money, in words: a key's own request shows the key's name. */
export function actorLabel(actor: string, names: KeyNames): Html {
  if (actor.startsWith('key:')) {
    const id = actor.slice(4);
    const name = names.get(id);
    return html`<span title="${actor}">key ${name === undefined ? html`<span class="mono">${id}</span>` : html`<a href="${BASE}/keys/${encodeURIComponent(id)}">${name}</a>`}</span>`;
  }
  const known: Record<string, string> = { 'admin-ui': 'dashboard', admin: 'admin API', cli: 'CLI', system: 'system', reconciler: 'reconciler', demo: 'demo' };
  return html`<span title="${actor}">${known[actor] ?? actor}</span>`;
}

/** A picker of keys by name (the value sent is the id), in place of a free-text id box. */
export function keyPicker(keys: readonly { id: string; name: string; revokedAt: number | null }[], selected: string, label = 'Key', name = 'key_id'): Html {
  const seen = new Map<string, number>();
  for (const k of keys) seen.set(k.name, (seen.get(k.name) ?? 0) + 1);
  const known = selected === '' || keys.some((k) => k.id === selected);
  return html`<label>${label}<select name="${name}"><option value="">any key</option>${keys.map(
    (k) =>
      html`<option value="${k.id}"${k.id === selected ? ' selected' : ''}>${k.name}${(seen.get(k.name) ?? 0) > 1 ? ` (${k.id})` : ''}${k.revokedAt !== null ? ' (revoked)' : ''}</option>`,
  )}${known ? '' : html`<option value="${selected}" selected>${selected} (no such key)</option>`}</select></label>`;
}
/** create, remix, edit or extension */
export const kindBadge = (kind: string): Html => html`<span class="kind kind-${kind}">${kind}</span>`;

export const lookupLink = (id: string | null, short = true): Html =>
  id === null ? html`<span class="muted">—</span>` : html`<a class="mono${short ? ' trunc' : ''}" title="${id}" href="${BASE}/requests?id=${encodeURIComponent(id)}">${id}</a>`;

/** Title, subtitle and (optionally) a control on the right. */
export function pageHead(title: string, sub: Html | string, aside: Html | string = ''): Html {
  return html`<div class="page-head"><div><h1>${title}</h1><p class="sub">${sub}</p></div>${aside}</div>`;
}

export function emptyRow(cols: number, text: string): Html {
  return html`<tr><td colspan="${cols}" class="muted">${text}</td></tr>`;
}

/** A select of the dashboard's time windows, submitted by a small GET form. */
export function windowPicker(action: string, days: number, windows: readonly number[]): Html {
  return html`<form class="filters window" method="get" action="${action}">
  <label>Window<select name="days">${windows.map((w) => html`<option value="${w}"${w === days ? ' selected' : ''}>Last ${w} days</option>`)}</select></label>
  <button type="submit" class="secondary">Show</button>
</form>`;
}

export function notFoundPage(session: Session): Html {
  return page(session, '', 'Not found', html`<h1>Not found</h1><p class="sub">There is no such page or record.</p>`);
}
