/**
 * Request metrics, observed once per request. Route labels are route patterns, so the series are
 * few; each series' prom-client child (`labels(...)`) is made once and kept, so observing a
 * request allocates no label objects and hashes no label names twice.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

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
  /** the upstream the request reached (contract §10); null or absent when none */
  upstreamId?: string | null;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

type CounterChild = Counter.Internal;
type HistogramChild = Histogram.Internal<string>;

/** The series of one method, route and status. */
interface StatusSeries {
  requests: CounterChild;
  duration: HistogramChild;
}

/** The series of one route pattern, and its method/status series by method, then status. */
interface RouteSeries {
  upstream: HistogramChild;
  overhead: HistogramChild;
  byMethod: Map<string, Map<number, StatusSeries>>;
}

export class HttpMetrics {
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly upstream: Histogram<'route'>;
  private readonly overhead: Histogram<'route'>;
  private readonly routes = new Map<string, RouteSeries>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'reelay_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'reelay_http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response (streams: to the last byte), by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.upstream = new Histogram({
      name: 'reelay_upstream_request_duration_seconds',
      help: 'Time waiting for the upstream per request that called it (small bodies: until read whole; streams: until the response headers), by route pattern.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.overhead = new Histogram({
      name: 'reelay_overhead_seconds',
      help: "reelay's own time per request: until the response headers were ready, minus the time waiting for the upstream, by route pattern.",
      labelNames: ['route'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
  }

  observe(o: RequestObservation): void {
    const route = this.routeSeries(o.route);
    const series = this.statusSeries(route, o.method, o.route, o.status);
    series.requests.inc();
    series.duration.observe(o.totalMs / 1000);
    if (o.upstreamMs !== null) route.upstream.observe(o.upstreamMs / 1000);
    route.overhead.observe(Math.max(0, o.overheadMs) / 1000);
  }

  private routeSeries(route: string): RouteSeries {
    let r = this.routes.get(route);
    if (!r) {
      r = { upstream: this.upstream.labels(route), overhead: this.overhead.labels(route), byMethod: new Map() };
      this.routes.set(route, r);
    }
    return r;
  }

  private statusSeries(r: RouteSeries, method: string, route: string, status: number): StatusSeries {
    let byStatus = r.byMethod.get(method);
    if (!byStatus) {
      byStatus = new Map();
      r.byMethod.set(method, byStatus);
    }
    let s = byStatus.get(status);
    if (!s) {
      const labels = [method, route, String(status)];
      s = { requests: this.requests.labels(...labels), duration: this.duration.labels(...labels) };
      byStatus.set(status, s);
    }
    return s;
  }
}
