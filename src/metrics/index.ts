/**
 * reelay's own metrics, served at `GET /metrics` in Prometheus' text format. Request metrics are
 * observed once per request (when its log row is written); the gauges are read from the database
 * and the process at scrape time. Route labels are route patterns (`/v1/videos/:id`), never raw
 * paths or ids, so the number of series stays bounded.
 *
 * The endpoint is unauthenticated, like most /metrics endpoints: it shows counts and timings by
 * route, never keys, ids or amounts per key. Keep it off the public internet (bind reelay to
 * loopback or a private interface, or block /metrics at the reverse proxy).
 */
import { Counter, Gauge, Histogram, ReadCounter, Registry, PROMETHEUS_CONTENT_TYPE } from './registry.js';

export { PROMETHEUS_CONTENT_TYPE };

/** What /metrics reads from the rest of the application at scrape time. */
export interface MetricsSources {
  /** Open jobs whose next poll is due now: the reconciler's backlog. */
  reconcilerBacklog(): number;
  /** Open jobs and the money they hold. */
  openHolds(): { jobs: number; heldMicros: number };
}

export interface RequestObservation {
  method: string;
  route: string;
  status: number;
  /** request received → response finished (for streams: the last byte handed to the socket) */
  totalMs: number;
  /** time spent waiting for the upstream; null when the request made no upstream call */
  upstreamMs: number | null;
  /** reelay's own time: until the response headers were ready, minus the upstream's time */
  overheadMs: number;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export const METRIC_NAMES = [
  'reelay_http_requests_total',
  'reelay_http_request_duration_seconds',
  'reelay_upstream_request_duration_seconds',
  'reelay_overhead_seconds',
  'reelay_reconciler_backlog',
  'reelay_holds_open',
  'reelay_holds_open_usd',
  'process_resident_memory_bytes',
  'process_heap_used_bytes',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
] as const;

export class Metrics {
  private readonly registry = new Registry();
  private readonly requests = this.registry.register(
    new Counter('reelay_http_requests_total', 'HTTP requests answered, by method, route pattern and status.', ['method', 'route', 'status']),
  );
  private readonly duration = this.registry.register(
    new Histogram(
      'reelay_http_request_duration_seconds',
      'Time from receiving a request to finishing its response (streams: to the last byte), by method, route pattern and status.',
      ['method', 'route', 'status'],
      LATENCY_BUCKETS,
    ),
  );
  private readonly upstream = this.registry.register(
    new Histogram(
      'reelay_upstream_request_duration_seconds',
      'Time waiting for the upstream per request that called it (small bodies: until read whole; streams: until the response headers), by route pattern.',
      ['route'],
      LATENCY_BUCKETS,
    ),
  );
  private readonly overhead = this.registry.register(
    new Histogram(
      'reelay_overhead_seconds',
      "reelay's own time per request: until the response headers were ready, minus the time waiting for the upstream, by route pattern.",
      ['route'],
      OVERHEAD_BUCKETS,
    ),
  );

  /** Read once per scrape, shown by two gauges. */
  private holds = { jobs: 0, heldMicros: 0 };

  constructor(private readonly sources: MetricsSources) {
    const r = this.registry;
    r.register(new Gauge('reelay_reconciler_backlog', 'Open jobs whose next upstream poll is due now (what the reconciler has yet to look at).', () => sources.reconcilerBacklog()));
    r.register(new Gauge('reelay_holds_open', 'Open jobs (pending, queued, in progress), each holding its price on its key.', () => this.holds.jobs));
    r.register(new Gauge('reelay_holds_open_usd', 'USD held by open jobs.', () => this.holds.heldMicros / 1_000_000));
    r.register(new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss()));
    r.register(new Gauge('process_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed));
    r.register(
      new ReadCounter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      }),
    );
    const startS = Math.round((Date.now() - process.uptime() * 1000) / 1000);
    r.register(new Gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', () => startS));
  }

  observeRequest(o: RequestObservation): void {
    const status = String(o.status);
    this.requests.inc([o.method, o.route, status]);
    this.duration.observe([o.method, o.route, status], o.totalMs / 1000);
    if (o.upstreamMs !== null) this.upstream.observe([o.route], o.upstreamMs / 1000);
    this.overhead.observe([o.route], Math.max(0, o.overheadMs) / 1000);
  }

  render(): string {
    this.holds = this.sources.openHolds();
    return this.registry.render();
  }
}
