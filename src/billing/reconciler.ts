import type { Store } from '../db/store.js';
import type { JobRow } from '../db/billing-store.js';
import type { Upstream } from '../relay/upstream.js';
import type { Observation, Settlement } from './settlement.js';
import { lookUpJob } from './lookup.js';
import type { Logger } from '../logging/logger.js';
import { IDEMPOTENCY_TTL_MS } from '../db/idempotency-store.js';

/**
 * Settles every job even when its client never polls again. Each pass:
 *  1. creates left `pending` by an earlier process (it died mid-create): outcome unknown → released;
 *  2. open jobs older than the maximum job age → expired, released;
 *  3. open jobs whose next poll is due → polled, with backoff and respect for retry-after;
 *  4. about once an hour, idempotency records past their 24 h replay window are deleted.
 * All state lives in the database, so a restarted process simply carries on.
 */
export interface ReconcilerOptions {
  store: Store;
  upstream: Upstream;
  settlement: Settlement;
  logger: Logger;
  now: () => number;
  intervalMs: number;
  maxJobAgeMs: number;
  /** Creates older than this and still pending belong to a process that died. */
  bootTime: number;
  batchSize?: number;
  concurrency?: number;
}

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
    const batch = this.o.batchSize ?? 100;
    let seen = 0;

    for (const job of await store.pendingJobsCreatedBefore(this.o.bootTime, batch)) {
      await settlement.settle(job, { kind: 'unknown', reason: 'process_restarted_during_create' }, 'reconciler', null);
      this.o.logger.warn({ incident: 'create_outcome_unknown', job_id: job.id, key_id: job.keyId }, 'create was in flight when the process stopped; hold released');
      seen++;
    }

    for (const job of await store.openJobsCreatedBefore(now() - this.o.maxJobAgeMs, batch)) {
      if (job.status === 'pending' && job.createdAt >= this.o.bootTime) continue;
      await settlement.settle(job, { kind: 'expired', reason: 'max_job_age' }, 'reconciler', null);
      seen++;
    }

    // Idempotency records are only replayed for 24 h; drop older ones about once an hour.
    if (now() - this.lastPurgeAt >= 3600_000) {
      await store.purgeIdempotencyKeys(now() - IDEMPOTENCY_TTL_MS);
      this.lastPurgeAt = now();
    }
    // Jobs that clients' polls have just seen are not due: write where those polls moved them.
    await store.flushPollSchedule(now());
    const due = await store.jobsDueForPoll(now(), batch);
    const concurrency = this.o.concurrency ?? 8;
    let next = 0;
    const worker = async () => {
      while (!this.stopped && next < due.length) {
        const job = due[next++]!;
        await this.poll(job);
        seen++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
    return seen;
  }

  private async poll(job: JobRow): Promise<void> {
    const obs = await this.observe(job);
    // A poll cut short by stop() saw nothing: it is not a failure of the upstream.
    if (this.stopped && obs.type === 'transient') return;
    await this.o.settlement.observe(job, obs, 'reconciler', null);
  }

  private async observe(job: JobRow): Promise<Observation> {
    return (await lookUpJob(this.o.upstream, job, this.o.now(), this.aborter.signal)).observation;
  }
}
