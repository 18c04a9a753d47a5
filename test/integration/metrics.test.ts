/** /metrics and server-timing: reelay reports its own overhead (the bench measures the rest). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openMigratedDatabase, type Database_ } from '../../src/db/client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey } from '../../src/keys/service.js';
import { METRIC_NAMES } from '../../src/metrics/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import type { Deps } from '../../src/deps.js';
import { TestClock } from '../helpers/clock.js';
import { parseExposition, valueOr0, type Exposition } from '../helpers/prometheus.js';

let sim: SimulatorHandle;
let deps: Deps & { database: Database_ };
let app: ReturnType<typeof createApp>;
let auth: Record<string, string>;
// reelay's clock moves only when a test advances it, so a gauge read at scrape time and the same
// count taken by the test afterwards see the same "now", however slowly the machine runs.
const clock = new TestClock(Date.now());

beforeAll(async () => {
  sim = await startSimulator({ jobDurationMs: 60_000, apiKey: 'sk-upstream' });
  const config = loadConfig({ UPSTREAM_BASE_URL: sim.url, UPSTREAM_API_KEY: 'sk-upstream', DATABASE_URL: ':memory:' });
  deps = buildDeps(config, { database: openMigratedDatabase(':memory:'), logger: silentLogger(), now: clock.now });
  app = createApp(deps);
  const { key, secret } = await createKey(deps.store, { name: 'metrics' }, clock.now());
  await deps.store.appendCredit(key.id, 10_000_000, 'test credit', { actor: 'test', requestId: null, now: clock.now() });
  auth = { authorization: `Bearer ${secret}` };
});

afterAll(async () => {
  await deps.requestLog.stop();
  await deps.upstreams.close().catch(() => {});
  deps.database.close();
  await sim.close();
});

async function scrapeText(): Promise<string> {
  const res = await app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

async function scrape(): Promise<Exposition> {
  return parseExposition(await scrapeText());
}

/** Every metric reelay has exposed so far, with its type: names, labels and types stay as they are. */
const EXPECTED_TYPES: Record<(typeof METRIC_NAMES)[number], string> = {
  reelay_http_requests_total: 'counter',
  reelay_http_request_duration_seconds: 'histogram',
  reelay_upstream_request_duration_seconds: 'histogram',
  reelay_overhead_seconds: 'histogram',
  reelay_reconciler_backlog: 'gauge',
  reelay_holds_open: 'gauge',
  reelay_holds_open_usd: 'gauge',
  reelay_jobs_settled_total: 'counter',
  reelay_usd_captured_total: 'counter',
  reelay_usd_released_total: 'counter',
  reelay_usd_held: 'gauge',
  reelay_upstream_inflight_jobs: 'gauge',
  reelay_upstream_create_attempts_total: 'counter',
  reelay_upstream_requests_total: 'counter',
  reelay_reconciler_lag_seconds: 'gauge',
  reelay_instance_info: 'gauge',
  reelay_webhook_deliveries_total: 'counter',
  reelay_archive_bytes_total: 'counter',
  reelay_archive_failures_total: 'counter',
  reelay_archive_queue_length: 'gauge',
  process_resident_memory_bytes: 'gauge',
  process_heap_used_bytes: 'gauge',
  process_cpu_seconds_total: 'counter',
  process_start_time_seconds: 'gauge',
};

const timing = /^total;dur=(\d+\.\d{3}), upstream;dur=(\d+\.\d{3}), reelay;dur=(\d+\.\d{3})$/;

async function createVideo(): Promise<string> {
  const res = await app.request('/v1/videos', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a lighthouse', seconds: '4' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

describe('GET /metrics', () => {
  it('exposes every documented metric name with HELP and TYPE lines', async () => {
    const e = await scrape();
    for (const name of METRIC_NAMES) {
      expect(e.types.get(name), name).toBe(EXPECTED_TYPES[name]);
      expect(e.helps.get(name), name).toBeTruthy();
    }
  });

  it('names the instance that answered the scrape', async () => {
    const text = await scrapeText();
    expect(deps.instance.id).toMatch(/\S/);
    expect(text).toContain(`reelay_instance_info{instance_id="${deps.instance.id}",version="`);
  });

  it('reports the process totals as the operating system counts them', async () => {
    const before = process.cpuUsage();
    const e = await scrape();
    const after = process.cpuUsage();
    const cpu = valueOr0(e, 'process_cpu_seconds_total');
    expect(cpu).toBeGreaterThanOrEqual((before.user + before.system) / 1e6);
    expect(cpu).toBeLessThanOrEqual((after.user + after.system) / 1e6);
    const start = valueOr0(e, 'process_start_time_seconds');
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThanOrEqual(1);
    expect(valueOr0(e, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOr0(e, 'process_heap_used_bytes')).toBeGreaterThan(0);
  });

  it('counts a request by method, route pattern and status, with its durations', async () => {
    const id = await createVideo();
    const labels = { method: 'GET', route: '/v1/videos/:id', status: '200' };
    const before = valueOr0(await scrape(), 'reelay_http_requests_total', labels);
    const res = await app.request(`/v1/videos/${id}`, { headers: auth });
    expect(res.status).toBe(200);
    const text = await scrapeText();
    const after = parseExposition(text);
    expect(valueOr0(after, 'reelay_http_requests_total', labels)).toBe(before + 1);
    // the label is the route pattern, never the id
    expect(text).not.toContain(id);
    expect(valueOr0(after, 'reelay_http_request_duration_seconds_count', labels)).toBe(before + 1);
    expect(valueOr0(after, 'reelay_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(before + 1);
    expect(valueOr0(after, 'reelay_http_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
    expect(valueOr0(after, 'reelay_upstream_request_duration_seconds_count', { route: '/v1/videos/:id' })).toBeGreaterThanOrEqual(1);
    expect(valueOr0(after, 'reelay_overhead_seconds_count', { route: '/v1/videos/:id' })).toBeGreaterThanOrEqual(1);
  });

  it('labels refused requests with the route pattern too, not the raw path', async () => {
    const res = await app.request('/v1/videos/video_not_mine_123', { headers: { authorization: 'Bearer sk-reelay-wrong' } });
    expect(res.status).toBe(401);
    const text = await scrapeText();
    expect(valueOr0(parseExposition(text), 'reelay_http_requests_total', { method: 'GET', route: '/v1/videos/:id', status: '401' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('video_not_mine_123');
  });

  it('shows the open holds and the reconciler backlog from the database', async () => {
    const before = await scrape();
    await createVideo();
    const after = await scrape();
    expect(valueOr0(after, 'reelay_holds_open')).toBe(valueOr0(before, 'reelay_holds_open') + 1);
    expect(valueOr0(after, 'reelay_holds_open_usd')).toBeCloseTo(valueOr0(before, 'reelay_holds_open_usd') + 0.4, 6);
    expect(valueOr0(after, 'reelay_reconciler_backlog')).toBe(await deps.store.countOpenJobsDue(clock.now()));
    // Once every open job's next poll is due, the backlog counts them all.
    clock.advance(10 * 60_000);
    const due = await deps.store.countOpenJobsDue(clock.now());
    expect(due).toBeGreaterThan(0);
    expect(valueOr0(await scrape(), 'reelay_reconciler_backlog')).toBe(due);
  });
});

describe('server-timing', () => {
  it('splits a proxied response into total, upstream and reelay time', async () => {
    const id = await createVideo();
    const res = await app.request(`/v1/videos/${id}`, { headers: auth });
    expect(res.status).toBe(200);
    const m = timing.exec(res.headers.get('server-timing') ?? '');
    expect(m, res.headers.get('server-timing') ?? '(none)').not.toBeNull();
    const [total, upstream, reelay] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(upstream).toBeGreaterThan(0);
    expect(total).toBeGreaterThanOrEqual(upstream);
    expect(reelay).toBeCloseTo(total - upstream, 2);
  });

  it('is on responses reelay answers itself, errors included, without an upstream part', async () => {
    const res = await app.request('/v1/videos', { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('server-timing')).toMatch(/^total;dur=\d+\.\d{3}, reelay;dur=\d+\.\d{3}$/);
    const health = await app.request('/healthz');
    expect(health.headers.get('server-timing')).toMatch(/^total;dur=/);
  });

  it('is on streamed video content', async () => {
    const id = await createVideo();
    const res = await app.request(`/v1/videos/${id}/content`, { headers: auth });
    // the simulator serves content once the job is done; either way the header is there
    expect(res.headers.get('server-timing')).toMatch(timing);
    await res.arrayBuffer();
  });
});
