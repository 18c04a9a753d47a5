/** METRICS_TOKEN: when set, /metrics takes it as a bearer token; when unset, /metrics is open. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, buildHarness, type Harness } from '../helpers/app-harness.js';
import { parseExposition } from '../helpers/prometheus.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
// /metrics never calls the upstream; nothing listens here.
const upstreamUrl = 'http://127.0.0.1:9/v1';

let guarded: Harness;
let open: Harness;

beforeAll(() => {
  guarded = buildHarness({ upstreamUrl, env: { METRICS_TOKEN } });
  open = buildHarness({ upstreamUrl });
});
afterAll(() => {
  guarded.close();
  open.close();
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  it('answers 401 in the error envelope without the token or with another one', async () => {
    const key = await guarded.newKey('1.00');
    const refused = ['', 'Bearer', `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(0, -1)}`, `Bearer ${ADMIN_TOKEN}`, `Bearer ${key.secret}`, `Basic ${btoa(`x:${METRICS_TOKEN}`)}`];
    for (const authorization of refused) {
      const res = await guarded.app.request('/metrics', { headers: authorization ? { authorization } : {} });
      expect(res.status, `with '${authorization}'`).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: { code: string; type: string; message: string } };
      expect(body.error).toMatchObject({ code: 'unauthorized', type: 'invalid_request_error' });
      expect(body.error.message).not.toContain(METRICS_TOKEN);
    }
  });

  it('serves the metrics with the token', async () => {
    const res = await guarded.app.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const e = parseExposition(await res.text());
    expect(e.types.get('reelay_http_requests_total')).toBe('counter');
    // The refused scrapes were answered, and counted, like any request.
    expect(e.samples.some((s) => s.name === 'reelay_http_requests_total' && s.labels.route === '/metrics' && s.labels.status === '401')).toBe(true);
  });
});

describe('GET /metrics without METRICS_TOKEN', () => {
  it('is open, as before', async () => {
    const res = await open.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(parseExposition(await res.text()).types.get('reelay_http_requests_total')).toBe('counter');
  });
});

describe('one registry per app', () => {
  it('keeps the metrics of two apps in one process apart', async () => {
    const a = buildHarness({ upstreamUrl });
    const b = buildHarness({ upstreamUrl });
    try {
      for (let i = 0; i < 3; i++) await a.app.request('/healthz');
      const count = async (h: Harness) =>
        parseExposition(await (await h.app.request('/metrics')).text()).samples.find(
          (s) => s.name === 'reelay_http_requests_total' && s.labels.route === '/healthz',
        )?.value ?? 0;
      expect(await count(a)).toBe(3);
      expect(await count(b)).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });
});
