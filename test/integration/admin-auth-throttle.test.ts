import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, TestClock, buildHarness, fromAddress } from '../helpers/app-harness.js';
import { AUTH_FAILURE_WINDOW_MS, MAX_AUTH_FAILURES } from '../../src/http/auth-throttle.js';

/** Repeated wrong admin tokens are throttled per client address, on the API as on the dashboard's login. */
const clock = new TestClock();
const h = buildHarness({ upstreamUrl: 'http://127.0.0.1:9/v1', now: clock.now });
afterAll(() => h.close());

function api(address: string, token: string | null) {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return h.app.request('/admin/keys', { headers }, fromAddress(address, headers));
}

/** A dashboard login attempt from `address`: fetch the form (its double-submit token), post it. */
async function login(address: string, token: string) {
  const page = await h.app.request('/admin/ui/login', {}, fromAddress(address));
  const field = /name="_login"\s+value="([^"]+)"/.exec(await page.text())![1]!;
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const headers = { 'content-type': 'application/x-www-form-urlencoded', cookie, 'sec-fetch-site': 'same-origin' };
  return h.app.request('/admin/ui/login', { method: 'POST', headers, body: new URLSearchParams({ _login: field, token }).toString() }, fromAddress(address, headers));
}

describe('the admin API throttles wrong tokens per client address', () => {
  it('answers 429 rate_limit_exceeded with retry-after once an address has sent too many wrong tokens, and only to that address', async () => {
    for (let i = 0; i < MAX_AUTH_FAILURES; i++) expect((await api('192.0.2.1', `wrong-token-${i}-xxxxxxxx`)).status).toBe(401);
    const refused = await api('192.0.2.1', 'wrong-token-again-xxxxxxxx');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
    expect(Number(refused.headers.get('retry-after'))).toBe(AUTH_FAILURE_WINDOW_MS / 1000);
    // Even the right token is refused from there: a guesser must not learn that a guess was right.
    expect((await api('192.0.2.1', ADMIN_TOKEN)).status).toBe(429);
    // Another address is unaffected.
    expect((await api('192.0.2.2', ADMIN_TOKEN)).status).toBe(200);

    clock.advance(30_000);
    expect(Number((await api('192.0.2.1', ADMIN_TOKEN)).headers.get('retry-after'))).toBe(30);
    clock.advance(30_000);
    expect((await api('192.0.2.1', ADMIN_TOKEN)).status).toBe(200);
  });

  it('does not count requests without a token (probes) as guesses', async () => {
    for (let i = 0; i < MAX_AUTH_FAILURES * 2; i++) expect((await api('192.0.2.3', null)).status).toBe(401);
    expect((await api('192.0.2.3', ADMIN_TOKEN)).status).toBe(200);
  });

  it('counts wrong tokens on the dashboard login and on the API together', async () => {
    for (let i = 0; i < MAX_AUTH_FAILURES / 2; i++) expect((await login('192.0.2.4', `wrong-login-${i}`)).status).toBe(401);
    for (let i = 0; i < MAX_AUTH_FAILURES / 2; i++) expect((await api('192.0.2.4', `wrong-api-${i}-xxxxxxxx`)).status).toBe(401);
    const page = await login('192.0.2.4', ADMIN_TOKEN);
    expect(page.status).toBe(429);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await page.text()).toContain('Too many failed attempts');
    expect((await api('192.0.2.4', ADMIN_TOKEN)).status).toBe(429);
    expect((await login('192.0.2.5', ADMIN_TOKEN)).status).toBe(303);
  });
});
