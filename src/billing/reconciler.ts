import { setMaxListeners } from 'node:events';
import type { Store } from '../db/store.js';
import type { JobRow } from '../db/billing-store.js';
import type { UpstreamClients } from '../relay/registry.js';
import type { Observation, Settlement } from './settlement.js';
import { lookUpJob } from './lookup.js';
import type { Logger } from '../logging/logger.js';
import { IDEMPOTENCY_TTL_MS } from '../db/idempotency-store.js';

/**
 * Settles every job even when its client never polls again. Each pass:
 *  1. creates left `pending` by an instance that is dead (no heartbeat for the instance timeout, or
 *     stopped): their outcome is unknown → released. A live instance's creates are its own business;
 *  2. open jobs older than the maximum job age → expired, released;
 *  3. open jobs whose next poll is due → leased to this instance (so several instances share the
 *     polls and never double one) and polled, with backoff and respect for retry-after; while a
 *     whole batch was due, the next batch follows at once;
 *  4. about once an hour, idempotency records past their 24 h replay window and long-gone
 *     instances are deleted.
 * All state lives in the database, so a restarted process simply carries on.
 */
export interface ReconcilerOptions {
  store: Store;
  /** Each job is polled at the upstream that created it, with that upstream's credential. */
  upstreams: UpstreamClients;
  settlement: Settlement;
  logger: Logger;
  now: () => number;
  intervalMs: number;
  maxJobAgeMs: number;
  /** This process's instance id: its leases carry it, and its own pending creates are never taken over. */
  instanceId: string;
  /** An instance silent this long is dead (INSTANCE_TIMEOUT_MS). */
  instanceTimeoutMs: number;
  /**
   * Longer than any create can take (the upstream's timeouts and a margin): this instance's own
   * pending create older than this lost its request without settling, and is released.
   */
  maxCreateMs?: number;
  /** Jobs leased per batch (default: twice the concurrency). */
  batchSize?: number;
  /** Polls in flight at once from this instance (RECONCILER_CONCURRENCY): the bound on what a backlog sends upstream. */
  concurrency?: number;
  /**
   * How long a lease lasts: a dead instance's leased jobs are picked up by another once it runs
   * out. A poll still running when its lease is about to run out is abandoned, so no other
   * instance polls the job while this one still does.
   */
  leaseMs?: number;
  /** Most batches per pass, so a pass ends now and then (housekeeping, stop) even under a backlog. */
  maxBatchesPerPass?: number;
}

export const DEFAULT_LEASE_MS = 45_000;
/** The upstream timeouts' defaults (10 + 60 + 60 s) and a minute to spare. */
export const DEFAULT_MAX_CREATE_MS = 190_000;
/** Time kept between a poll's abandonment and its lease running out. */
const LEASE_MARGIN_MS = 5_000;

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Aborts the polls in flight when the reconciler stops (a hung upstream must not hold up shutdown). */
  private aborter = new AbortController();
  private lastPurgeAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: ReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    this.aborter = new AbortController();
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .then(() => undefined)
        .catch((err) => this.o.logger.error({ err: (err as Error).message }, 'reconciler pass failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(loop, this.o.intervalMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops scheduling and waits for the pass in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }

  /** One pass. Returns how many jobs it looked at. */
  async tick(): Promise<number> {
    const { store, settlement, now } = this.o;
    const concurrency = this.o.concurrency ?? 64;
    const batch = this.o.batchSize ?? concurrency * 2;
    let seen = 0;

    const deadBefore = now() - this.o.instanceTimeoutMs;
    const selfStaleBefore = now() - (this.o.maxCreateMs ?? DEFAULT_MAX_CREATE_MS);
    for (const job of await store.pendingJobsOfDeadInstances({ deadBefore, self: this.o.instanceId, selfStaleBefore, limit: batch })) {
      const own = job.instanceId === this.o.instanceId;
      await settlement.settle(job, { kind: 'unknown', reason: own ? 'create_never_recorded' : 'instance_died_during_create' }, 'reconciler', null);
      this.o.logger.warn(
        { incident: 'create_outcome_unknown', job_id: job.id, key_id: job.keyId, instance: job.instanceId },
        own ? 'create ended without being settled; hold released' : 'create was in flight on an instance that stopped; hold released',
      );
      seen++;
    }

    for (const job of await store.openJobsCreatedBefore(now() - this.o.maxJobAgeMs, batch)) {
      // A pending create is its instance's until that instance dies (step 1 above).
      if (job.status === 'pending') continue;
      await settlement.settle(job, { kind: 'expired', reason: 'max_job_age' }, 'reconciler', null);
      seen++;
    }

    // Idempotency records are only replayed for 24 h; drop older ones about once an hour, and
    // instances silent for a day with nothing left to take over.
    if (now() - this.lastPurgeAt >= 3600_000) {
      await store.purgeIdempotencyKeys(now() - IDEMPOTENCY_TTL_MS);
      await store.purgeInstances(now() - 24 * 3600_000);
      this.lastPurgeAt = now();
    }
    // Jobs that clients' polls have just seen are not due: write where those polls moved them.
    await store.flushPollSchedule(now());
    const leaseMs = this.o.leaseMs ?? DEFAULT_LEASE_MS;
    const maxBatches = this.o.maxBatchesPerPass ?? 50;
    for (let n = 0; n < maxBatches && !this.stopped; n++) {
      const leasedAt = now();
      const due = await store.claimDueJobs({
        instanceId: this.o.instanceId,
        now: leasedAt,
        claimUntil: leasedAt + leaseMs,
        deadBefore: leasedAt - this.o.instanceTimeoutMs,
        limit: batch,
      });
      // Each poll gives up before its lease runs out, so the job is never polled by two at once.
      const deadline = AbortSignal.timeout(Math.max(1000, leaseMs - LEASE_MARGIN_MS));
      const signal = AbortSignal.any([this.aborter.signal, deadline]);
      // Every poll in flight listens on it (up to the concurrency): not a leak, so no warning.
      setMaxListeners(concurrency + 16, signal);
      let next = 0;
      const worker = async () => {
        while (!this.stopped && next < due.length) {
          const job = due[next++]!;
          await this.poll(job, signal);
          seen++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
      // Jobs polled without news have their schedule moves batched: write them (ending their
      // leases) before leasing more, and stop when the backlog is cleared.
      await store.flushPollSchedule(now());
      if (due.length < batch) break;
    }
    return seen;
  }

  private async poll(job: JobRow, signal: AbortSignal): Promise<void> {
    const obs = await this.observe(job, signal);
    // A poll cut short (stop, or its lease running out) saw nothing: it is not a failure of the upstream.
    if (signal.aborted && obs.type === 'transient') return;
    await this.o.settlement.observe(job, obs, 'reconciler', null);
  }

  private async observe(job: JobRow, signal: AbortSignal): Promise<Observation> {
    const upstream = this.o.upstreams.client(job.upstreamId);
    // Its upstream is no longer configured: nothing to ask; back off (the maximum job age ends it).
    if (!upstream) return { type: 'transient', retryAfterMs: 10 * 60_000 };
    return (await lookUpJob(upstream, job, this.o.now(), signal)).observation;
  }
}
