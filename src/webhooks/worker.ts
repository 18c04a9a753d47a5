import type { Store } from '../store/store.js';
import type { WebhookEventRow } from '../store/rows.js';
import type { Logger } from '../logging/logger.js';
import type { Lookup } from './address.js';
import { attemptDelivery, type AttemptKind } from './deliver.js';

/**
 * Delivers webhook events from the outbox (design.md, "Side effects after a settlement go through
 * an outbox"). Every instance runs one: it leases due events (claimDueWebhookEvents, as the
 * reconciler leases jobs), so each attempt is made by one instance and a dead instance's leased
 * events are taken over; it makes at most `concurrency` attempts at once; it records every attempt
 * and schedules the next (contract §12): about 5 s, 1 min, 5 min, 30 min, 2 h, 6 h and 12 h after
 * the previous failure, each ±20%, then gives the event up (`failed`).
 */

/** The retry delays of contract §12, after the 1st, 2nd, … failed attempt. */
export const RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([5_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000]);
export const RETRY_JITTER = 0.2;

/** The delay before the next attempt after `failures` failed ones (1-based), or null to give up. */
export function retryDelayMs(failures: number, schedule: readonly number[] = RETRY_SCHEDULE_MS, random: () => number = Math.random): number | null {
  const base = schedule[failures - 1];
  if (base === undefined) return null;
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

/** What the metrics count: each attempt by how it ended, and each event given up. */
export type DeliveryResult = AttemptKind | 'gave_up';

export interface WebhookWorkerOptions {
  store: Store;
  logger: Logger;
  now: () => number;
  instanceId: string;
  /** An instance silent this long is dead (INSTANCE_TIMEOUT_MS): its leases are taken over. */
  instanceTimeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** Attempts in flight at once from this instance. */
  concurrency?: number;
  /** How often to look for due events when not woken. */
  intervalMs?: number;
  /** How long a lease lasts; longer than any attempt (10 s) by far. */
  leaseMs?: number;
  /** The retry delays (tests shorten them; production uses RETRY_SCHEDULE_MS). */
  schedule?: readonly number[];
  attemptTimeoutMs?: number;
  lookup?: Lookup;
  onResult?: (result: DeliveryResult) => void;
}

export const DEFAULT_WEBHOOK_CONCURRENCY = 16;
export const DEFAULT_WEBHOOK_LEASE_MS = 60_000;

export class WebhookWorker {
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly inflight = new Set<Promise<void>>();
  private claiming: Promise<number> | null = null;
  private again = false;
  private aborter = new AbortController();

  constructor(private readonly o: WebhookWorkerOptions) {}

  private get concurrency(): number {
    return this.o.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.aborter = new AbortController();
    const loop = () => {
      if (this.stopped) return;
      this.wake();
      this.timer = setTimeout(loop, this.o.intervalMs ?? 1000);
      this.timer.unref();
    };
    loop();
  }

  /**
   * Stops leasing and waits for the attempts in flight (each ends within its 10 s timeout), so
   * none is cut short and counted as a failure. `abandon` aborts them instead.
   */
  async stop(abandon = false): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (abandon) this.aborter.abort();
    if (this.claiming) await this.claiming.catch(() => 0);
    await Promise.allSettled([...this.inflight]);
  }

  /** Looks for due events now (after a settlement wrote one, or a redelivery was asked for). */
  wake(): void {
    if (this.stopped) return;
    void this.fill().catch((err) => this.o.logger.warn({ err: (err as Error).message }, 'webhook delivery: leasing events failed'));
  }

  /**
   * Leases as many due events as there are free slots and starts their attempts; returns how many.
   * Tests call it directly (with runDue) instead of start().
   */
  async fill(): Promise<number> {
    if (this.claiming) {
      this.again = true;
      return 0;
    }
    let started = 0;
    this.claiming = (async () => {
      do {
        this.again = false;
        const free = this.concurrency - this.inflight.size;
        if (free <= 0) break;
        const now = this.o.now();
        const events = await this.o.store.claimDueWebhookEvents({
          instanceId: this.o.instanceId,
          now,
          claimUntil: now + (this.o.leaseMs ?? DEFAULT_WEBHOOK_LEASE_MS),
          deadBefore: now - this.o.instanceTimeoutMs,
          limit: free,
        });
        for (const event of events) {
          const p: Promise<void> = this.deliver(event)
            .catch((err) => this.o.logger.error({ err: (err as Error).message, event_id: event.id }, 'webhook delivery: recording an attempt failed'))
            .finally(() => {
              this.inflight.delete(p);
              // A slot is free: more may be due (a backlog larger than the concurrency).
              if (!this.stopped) this.wake();
            });
          this.inflight.add(p);
        }
        started += events.length;
        if (events.length === free) this.again = true;
      } while (this.again && this.inflight.size < this.concurrency);
      return started;
    })();
    try {
      return await this.claiming;
    } finally {
      this.claiming = null;
    }
  }

  /** Tests: leases and attempts what is due, waiting for the attempts, until nothing is due. */
  async runDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.fill();
      await Promise.allSettled([...this.inflight]);
      total += n;
      if (n === 0 && this.inflight.size === 0) return total;
    }
  }

  /** Attempts in flight now. */
  get busy(): number {
    return this.inflight.size;
  }

  private async deliver(event: WebhookEventRow): Promise<void> {
    const { store, now, logger } = this.o;
    const target = await store.webhookTarget(event.keyId, now());
    let result;
    if (!target.url || target.secrets.length === 0) {
      result = { kind: 'refused' as const, statusCode: null, error: 'the key has no webhook endpoint any more', durationMs: 0 };
    } else {
      result = await attemptDelivery({
        url: target.url,
        eventId: event.id,
        body: event.body,
        secrets: target.secrets,
        allowPrivate: this.o.allowPrivate,
        now,
        timeoutMs: this.o.attemptTimeoutMs,
        lookup: this.o.lookup,
        signal: this.aborter.signal,
      });
    }
    const at = now();
    const failures = event.retryStep + 1;
    const delay = result.kind === 'delivered' || !target.url ? null : retryDelayMs(failures, this.o.schedule ?? RETRY_SCHEDULE_MS);
    const outcome = result.kind === 'delivered' ? ({ status: 'delivered' } as const) : delay === null ? ({ status: 'failed' } as const) : ({ status: 'pending', nextAttemptAt: at + delay } as const);
    const moved = await store.recordWebhookAttempt(event.id, this.o.instanceId, { at: at - result.durationMs, statusCode: result.statusCode, error: result.error, durationMs: result.durationMs }, outcome);
    this.o.onResult?.(result.kind);
    const fields = { event_id: event.id, key_id: event.keyId, video_id: event.videoId, type: event.type, status_code: result.statusCode, error: result.error, duration_ms: result.durationMs };
    if (outcome.status === 'delivered') logger.info(fields, 'webhook delivered');
    else if (outcome.status === 'failed' && moved) {
      this.o.onResult?.('gave_up');
      logger.warn({ ...fields, attempts: event.attemptCount + 1 }, 'webhook given up');
    } else logger.info({ ...fields, next_attempt_at: outcome.status === 'pending' ? new Date(outcome.nextAttemptAt).toISOString() : null }, 'webhook attempt failed');
  }
}
