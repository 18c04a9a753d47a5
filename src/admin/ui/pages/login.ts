import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { isAdminToken } from '../../../http/admin-auth.js';
import { clientAddress } from '../../../http/auth-throttle.js';
import { BASE, barePage, type Html } from '../layout.js';
import { readForm, seeOther, UI_ACTOR, type UiEnv } from '../context.js';
import {
  checkLoginToken,
  clearLoginCookie,
  clearSessionCookie,
  isSameOriginRequest,
  issueLoginToken,
  readSessionCookie,
  setSessionCookie,
  type SessionStore,
} from '../session.js';

function loginPage(token: string | null, message: string | null, disabled: boolean): Html {
  return barePage(
    'Log in',
    html`<div class="login"><div class="panel">
  <h1>reelay admin</h1>
  ${disabled
    ? html`<div class="flash error" role="alert" id="admin-disabled">The admin API is disabled: set <code>ADMIN_TOKEN</code> (16 characters or more) and restart reelay to use the dashboard.</div>`
    : html`<p class="muted">Log in with the admin token (<code>ADMIN_TOKEN</code>).</p>
  ${message ? html`<div class="flash error" role="alert" id="login-error">${message}</div>` : ''}
  <form class="stacked" method="post" action="${BASE}/login">
    <input type="hidden" name="_login" value="${token ?? ''}">
    <label>Admin token<input type="password" name="token" autocomplete="current-password" required autofocus></label>
    <div><button type="submit">Log in</button></div>
  </form>`}
</div></div>`,
  );
}

export function registerLogin(app: Hono<UiEnv>, deps: Deps, sessions: SessionStore): void {
  const disabled = () => !deps.config.adminToken;

  app.get('/login', async (c) => {
    if (disabled()) return c.html(loginPage(null, null, true), 403);
    if (await sessions.get(readSessionCookie(c))) return seeOther(c, BASE);
    return c.html(loginPage(issueLoginToken(c), null, false));
  });

  app.post('/login', async (c) => {
    if (disabled()) return c.html(loginPage(null, null, true), 403);
    if (!isSameOriginRequest(c)) return c.html(loginPage(issueLoginToken(c), 'Refused: the form was not sent from this site.', false), 403);
    const form = await readForm(c);
    if (!checkLoginToken(c, form.get('_login'))) {
      return c.html(loginPage(issueLoginToken(c), 'The login form expired; please try again.', false), 403);
    }
    // The same per-address throttle as the admin API's: wrong tokens count on both.
    const who = clientAddress(c);
    const wait = await deps.authThrottle.retryAfterSeconds(who);
    if (wait > 0) return c.html(loginPage(issueLoginToken(c), 'Too many failed attempts; wait a minute and try again.', false), 429, { 'retry-after': String(wait) });
    if (!isAdminToken(deps, form.get('token'))) {
      await deps.authThrottle.fail(who);
      deps.logger.warn({ request_id: c.get('state').requestId }, 'dashboard login with a wrong admin token');
      return c.html(loginPage(issueLoginToken(c), 'Invalid admin token.', false), 401);
    }
    const old = readSessionCookie(c);
    if (old) await sessions.destroy(old); // never keep a session id chosen before login
    const session = await sessions.create();
    setSessionCookie(c, session);
    clearLoginCookie(c);
    await deps.store.appendAudit({ actor: UI_ACTOR, action: 'ui.login', targetId: null, requestId: c.get('state').requestId, details: null, now: deps.now() });
    return seeOther(c, BASE);
  });
}

/** Registered after the session middleware, which checks the CSRF token of this POST. */
export function registerLogout(app: Hono<UiEnv>, sessions: SessionStore): void {
  app.post('/logout', async (c) => {
    await sessions.destroy(c.get('session').token);
    clearSessionCookie(c);
    return seeOther(c, `${BASE}/login`);
  });
}
