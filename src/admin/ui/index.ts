import { DATABASE_RETRY_AFTER_S, isDatabaseUnavailable } from '../../db/unavailable.js';
import { Hono, type MiddlewareHandler } from 'hono';
import { html } from 'hono/html';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { BASE, barePage, FAVICON_SVG, notFoundPage, page } from './layout.js';
import { STYLE_CSS } from './style.js';
import { readForm, type UiEnv } from './context.js';
import { isSameOriginRequest, readSessionCookie, sameToken, SessionStore } from './session.js';
import { windowDays } from './format.js';
import { registerLogin, registerLogout } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import { registerKeyPages } from './pages/keys.js';
import { registerJobPages } from './pages/jobs.js';
import { registerLedgerPages } from './pages/ledger.js';
import { registerRequestPages } from './pages/requests.js';
import { registerHealthPage } from './pages/health.js';
import { registerExports } from './pages/exports.js';
import { registerUsagePage } from './pages/usage.js';
import { registerAuditPage } from './pages/audit.js';
import { registerPricingPage } from './pages/pricing.js';
import { registerUpstreamsPage } from './pages/upstreams.js';

/** No caching of pages holding account data, no framing, no inline script or style. */
const securityHeaders: MiddlewareHandler<UiEnv> = async (c, next) => {
  await next();
  const h = c.res.headers;
  if (!h.has('cache-control')) h.set('cache-control', 'no-store');
  h.set('content-security-policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  h.set('x-frame-options', 'DENY');
  h.set('x-content-type-options', 'nosniff');
  h.set('referrer-policy', 'same-origin');
};

function refused(message: string) {
  return barePage('Refused', html`<div class="login"><div class="panel"><h1>Refused</h1><div class="flash error" role="alert" id="refused">${message}</div><p><a href="${BASE}">Back to the dashboard</a></p></div></div>`);
}

/**
 * Every page past the login needs a live session; every POST must come from this origin and carry
 * the session's CSRF token (the form is read here, once, and handed to the route).
 */
function requireSession(sessions: SessionStore): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const session = await sessions.get(readSessionCookie(c));
    const method = c.req.method;
    const safe = method === 'GET' || method === 'HEAD';
    if (!session) {
      if (safe) return c.redirect(`${BASE}/login`, 303);
      return c.html(refused('Your session has expired or you are not logged in. Log in again and resend the form.'), 403);
    }
    c.set('session', session);
    c.get('state').adminAuthenticated = true;
    if (!safe) {
      if (!isSameOriginRequest(c)) return c.html(refused('Refused: the form was not sent from this site.'), 403);
      const form = await readForm(c);
      const token = form.get('_csrf');
      if (!token || !sameToken(token, session.csrf)) return c.html(refused('Refused: the form is missing its CSRF token or the token is stale. Reload the page and try again.'), 403);
      c.set('form', form);
    }
    await next();
    // Flash messages and the reveal-once secret this request changed, for the next request on any instance.
    await sessions.save(session);
  };
}

/** /admin/ui: the admin dashboard, server-rendered, authenticated by its own session cookie. */
export function dashboardRoutes(deps: Deps): Hono<UiEnv> {
  const app = new Hono<UiEnv>();
  const sessions = new SessionStore(deps.store, deps.now);

  app.use('*', securityHeaders);
  app.onError((err, c) => {
    if (isDatabaseUnavailable(err)) {
      deps.logger.warn({ err: err.message, request_id: c.get('state')?.requestId }, 'dashboard: database unavailable');
      const state = c.get('state');
      if (state) state.errorCode = 'database_unavailable';
      c.header('retry-after', String(DATABASE_RETRY_AFTER_S));
      return c.html(barePage('Database unavailable', html`<div class="login"><div class="panel"><h1>Database unavailable</h1><div class="flash error" role="alert">The database cannot be reached right now; nothing was changed. Try again shortly.</div><p><a href="${BASE}">Back to the dashboard</a></p></div></div>`), 503);
    }
    const status = err instanceof ApiError ? err.status : 500;
    if (status >= 500) deps.logger.error({ err: err.message, request_id: c.get('state')?.requestId }, 'dashboard error');
    const message = err instanceof ApiError && status < 500 ? err.message : `Something went wrong (request ${c.get('state')?.requestId ?? 'unknown'}).`;
    return c.html(barePage('Error', html`<div class="login"><div class="panel"><h1>Error</h1><div class="flash error" role="alert">${message}</div><p><a href="${BASE}">Back to the dashboard</a></p></div></div>`), status as 500);
  });

  app.get('/assets/style.css', (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.body(STYLE_CSS, 200, { 'content-type': 'text/css; charset=utf-8' });
  });
  app.get('/favicon.svg', (c) => {
    c.header('cache-control', 'public, max-age=86400');
    return c.body(FAVICON_SVG, 200, { 'content-type': 'image/svg+xml' });
  });
  registerLogin(app, deps, sessions);

  app.use('*', requireSession(sessions));
  registerLogout(app, sessions);
  app.get('/', async (c) => c.html(page(c.get('session'), 'overview', 'Overview', await overviewPage(deps, windowDays(c.req.query('days'))))));
  registerKeyPages(app, deps);
  registerJobPages(app, deps);
  registerLedgerPages(app, deps);
  registerRequestPages(app, deps);
  registerHealthPage(app, deps);
  registerUpstreamsPage(app, deps);
  registerUsagePage(app, deps);
  registerAuditPage(app, deps);
  registerPricingPage(app, deps);
  registerExports(app, deps);
  app.all('*', (c) => (c.req.path === `${BASE}/` ? c.redirect(BASE, 303) : c.html(notFoundPage(c.get('session')), 404)));
  return app;
}
