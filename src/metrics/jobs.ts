/**
 * Jobs and money. Settlements are counted as they commit (Settlement's onSettled hook, once per
 * settled job); what is open now is read from the database at scrape time. Amounts are kept in
 * whole micro-USD and shown as plain decimal dollars only in the exposition.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What /metrics reads from the database at scrape time. */
export interface MetricsSources {
  /** Open jobs whose next poll is due now: the reconciler's backlog. */
  reconcilerBacklog(): Promise<number>;
  /** Open jobs and the money they hold. */
  openHolds(): Promise<{ jobs: number; heldMicros: number }>;
  /** The sum of all keys' holds. */
  heldMicros(): Promise<number>;
  /** How overdue the most overdue poll of an open job is (0 when none is). */
  reconcilerLagMs(): Promise<number>;
  /** Archive tasks still to copy (none when the archive is off). */
  archiveQueueLength?(): Promise<number>;
  /** Open jobs per upstream (contract §10). */
  openJobsByUpstream?(): Promise<{ upstreamId: string; n: number }[]>;
}

export const SETTLE_OUTCOMES = ['completed', 'failed', 'expired', 'rejected', 'unknown'] as const;
export type SettleOutcome = (typeof SETTLE_OUTCOMES)[number];

/** One settled job, as Settlement reports it. */
export interface SettledJob {
  outcome: SettleOutcome;
  /** The job's upstream (default 'default'). */
  upstreamId?: string;
  heldMicros: number;
  chargedMicros: number;
}

/** The upstream label of the implicit upstream (no UPSTREAMS_FILE). */
export const DEFAULT_UPSTREAM = 'default';

const dollars = (micros: number) => micros / 1_000_000;

export class JobMetrics {
  private readonly settled: Counter<'outcome' | 'upstream'>;
  private readonly attempts: Counter<'upstream' | 'result'>;
  private capturedMicros = 0;
  private releasedMicros = 0;
  /** Read once per scrape (see refresh), shown by three gauges that must agree. */
  private holds = { jobs: 0, heldMicros: 0 };

  constructor(
    registry: Registry,
    private readonly sources: MetricsSources,
    upstreamIds: readonly string[] = [DEFAULT_UPSTREAM],
  ) {
    const registers = [registry];
    const self = this;
    new Gauge({
      name: 'reelay_reconciler_backlog',
      help: 'Open jobs whose next upstream poll is due now (what the reconciler has yet to look at).',
      registers,
      async collect() {
        this.set(await sources.reconcilerBacklog());
      },
    });
    new Gauge({
      name: 'reelay_holds_open',
      help: 'Open jobs (pending, queued, in progress), each holding its price on its key.',
      registers,
      collect() {
        this.set(self.holds.jobs);
      },
    });
    new Gauge({
      name: 'reelay_holds_open_usd',
      help: 'USD held by open jobs.',
      registers,
      collect() {
        this.set(dollars(self.holds.heldMicros));
      },
    });

    const settled = (this.settled = new Counter({
      name: 'reelay_jobs_settled_total',
      help: 'Jobs settled (their hold captured or released), by outcome and upstream.',
      labelNames: ['outcome', 'upstream'],
      registers,
    }));
    for (const upstream of upstreamIds) {
      for (const outcome of SETTLE_OUTCOMES) settled.labels(outcome, upstream).inc(0); // every outcome is shown from the start, at 0
    }
    this.attempts = new Counter({
      name: 'reelay_upstream_create_attempts_total',
      help: 'Billable creates sent to each upstream, by result: ok (2xx), refused (another 4xx), rate_limited (429), unavailable (503), error (other 5xx), unreachable (connection failed before sending), unknown (timeout or connection lost after sending).',
      labelNames: ['upstream', 'result'],
      registers,
    });
    new Counter({
      name: 'reelay_usd_captured_total',
      help: 'USD captured from holds by settled jobs (what finished videos were charged).',
      registers,
      collect() {
        this.reset();
        this.inc(dollars(self.capturedMicros));
      },
    });
    new Counter({
      name: 'reelay_usd_released_total',
      help: 'USD of holds released by settled jobs (failed jobs whole, completed ones their unused remainder).',
      registers,
      collect() {
        this.reset();
        this.inc(dollars(self.releasedMicros));
      },
    });
    new Gauge({
      name: 'reelay_usd_held',
      help: 'USD held on all keys by open jobs.',
      registers,
      async collect() {
        this.set(dollars(await sources.heldMicros()));
      },
    });
    new Gauge({
      name: 'reelay_upstream_inflight_jobs',
      help: 'Open jobs (pending, queued, in progress), by upstream.',
      labelNames: ['upstream'],
      registers,
      async collect() {
        this.reset();
        const counts = new Map<string, number>(upstreamIds.map((id) => [id, 0]));
        if (sources.openJobsByUpstream) for (const r of await sources.openJobsByUpstream()) counts.set(r.upstreamId, r.n);
        else counts.set(DEFAULT_UPSTREAM, self.holds.jobs);
        for (const [upstream, n] of counts) this.set({ upstream }, n);
      },
    });
    new Gauge({
      name: 'reelay_reconciler_lag_seconds',
      help: 'How overdue the most overdue poll of an open job is, in seconds (0 when none is).',
      registers,
      async collect() {
        this.set((await sources.reconcilerLagMs()) / 1000);
      },
    });
  }

  /** Called once per settled job, after its transaction committed. */
  jobSettled(s: SettledJob): void {
    this.settled.labels(s.outcome, s.upstreamId ?? DEFAULT_UPSTREAM).inc();
    this.capturedMicros += s.chargedMicros;
    this.releasedMicros += s.heldMicros - s.chargedMicros;
  }

  /** One billable create sent to an upstream (each failover attempt counts). */
  createAttempt(upstream: string, result: string): void {
    this.attempts.labels(upstream, result).inc();
  }

  /** Reads what the gauges share, once per scrape. */
  async refresh(): Promise<void> {
    this.holds = await this.sources.openHolds();
  }
}
