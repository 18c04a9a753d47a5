/**
 * reelay's own metrics, served at `GET /metrics` in Prometheus' text format by prom-client. Each
 * Metrics has its own registry (never prom-client's global one), so several apps can live in one
 * process. Request metrics are observed once per request (when its log row is written);
 * settlements are counted as they commit; the gauges are read from the database and the process
 * at scrape time. Route labels are route patterns (`/v1/videos/:id`), never raw paths or ids, so
 * the number of series stays bounded.
 *
 * The endpoint shows counts, timings and totals, never keys, ids or amounts per key. It is open
 * unless METRICS_TOKEN is set (see route.ts); set it wherever the port is reachable by others.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { HttpMetrics, type RequestObservation } from './http.js';
import { JobMetrics, type MetricsSources, type SettledJob } from './jobs.js';
import { registerProcessMetrics } from './process.js';
import { ArchiveMetrics } from './archive.js';

export type { RequestObservation, MetricsSources, SettledJob };

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export const METRIC_NAMES = [
  'reelay_http_requests_total',
  'reelay_http_request_duration_seconds',
  'reelay_upstream_request_duration_seconds',
  'reelay_overhead_seconds',
  'reelay_reconciler_backlog',
  'reelay_holds_open',
  'reelay_holds_open_usd',
  'reelay_jobs_settled_total',
  'reelay_usd_captured_total',
  'reelay_usd_released_total',
  'reelay_usd_held',
  'reelay_upstream_inflight_jobs',
  'reelay_upstream_create_attempts_total',
  'reelay_upstream_requests_total',
  'reelay_reconciler_lag_seconds',
  'reelay_instance_info',
  'reelay_webhook_deliveries_total',
  'reelay_archive_bytes_total',
  'reelay_archive_failures_total',
  'reelay_archive_queue_length',
  'process_resident_memory_bytes',
  'process_heap_used_bytes',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
] as const;

/** reelay_webhook_deliveries_total's results, each shown from 0. */
export const WEBHOOK_RESULTS = ['delivered', 'http_error', 'timeout', 'network_error', 'refused', 'gave_up'] as const;

export class Metrics {
  private readonly registry = new Registry();
  private readonly http = new HttpMetrics(this.registry);
  private readonly jobs: JobMetrics;
  private readonly webhookDeliveries = new Counter({
    name: 'reelay_webhook_deliveries_total',
    help: 'Webhook delivery attempts made by this instance, by result (delivered, http_error, timeout, network_error, refused), and events given up (gave_up)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  /** Archived bytes, failures and the queue (zero when the archive is off). */
  readonly archive: ArchiveMetrics;

  private readonly upstreamRequests: Counter<'upstream' | 'route'>;

  constructor(sources: MetricsSources, instance: { id: string; version: string } = { id: 'unnamed', version: '0' }, upstreamIds?: readonly string[]) {
    this.jobs = new JobMetrics(this.registry, sources, upstreamIds);
    this.archive = new ArchiveMetrics(this.registry, sources.archiveQueueLength ?? (async () => 0));
    this.upstreamRequests = new Counter({
      name: 'reelay_upstream_requests_total',
      help: 'Requests that reached an upstream, by upstream and route pattern (a create that failed over counts once, at the upstream that answered last; its attempts are in reelay_upstream_create_attempts_total).',
      labelNames: ['upstream', 'route'],
      registers: [this.registry],
    });
    registerProcessMetrics(this.registry);
    for (const result of WEBHOOK_RESULTS) this.webhookDeliveries.inc({ result }, 0);
    // Which instance this scrape came from (several instances may sit behind one load balancer).
    new Gauge({
      name: 'reelay_instance_info',
      help: 'This reelay instance: its instance_id (INSTANCE_ID or made up at start) and version; always 1',
      labelNames: ['instance_id', 'version'],
      registers: [this.registry],
    }).set({ instance_id: instance.id, version: instance.version }, 1);
  }

  observeRequest(o: RequestObservation): void {
    this.http.observe(o);
    if (o.upstreamId) this.upstreamRequests.labels(o.upstreamId, o.route).inc();
  }

  /** Settlement's onSettled hook: one call per settled job. */
  jobSettled(s: SettledJob): void {
    this.jobs.jobSettled(s);
  }

  /** The webhook worker's onResult hook: one call per attempt, and one per event given up. */
  webhookDelivery(result: string): void {
    this.webhookDeliveries.inc({ result });
  }

  /** One billable create sent to an upstream, by result (see JobMetrics.createAttempt). */
  createAttempt(upstream: string, result: string): void {
    this.jobs.createAttempt(upstream, result);
  }

  async render(): Promise<string> {
    await this.jobs.refresh();
    return this.registry.metrics();
  }
}
