import type { Store } from './store.js';
import type { Logger } from '../logging/logger.js';
import { RATE_WINDOW_MS, rateWindowAt } from './rate-window.js';

export interface SharedStatePrunerOptions {
  store: Pick<Store, 'purgeAdminSessions' | 'purgeAuthFailures' | 'purgeRateWindows'>;
  logger: Logger;
  now: () => number;
  /** How long a wrong admin token counts (AUTH_FAILURE_WINDOW_MS); older failures are deleted. */
  authFailureWindowMs: number;
  /** Time between passes; the first pass runs right after start(). */
  intervalMs?: number;
}

/**
 * Keeps the shared-state tables small: every minute, deletes expired dashboard sessions, wrong
 * admin tokens older than the throttle's window, and rate windows older than the previous minute
 * (no check reads them any more). Every instance runs it; the deletes are idempotent, so running
 * them on several instances at once is harmless. Nothing here is needed for correctness: the
 * reads ignore expired rows anyway.
 */
export class SharedStatePruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly o: SharedStatePrunerOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.prune()
        .then(() => undefined)
        .catch((err) => this.o.logger.warn({ err: (err as Error).message }, 'shared-state purge failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopped) {
            this.timer = setTimeout(loop, this.o.intervalMs ?? 60_000);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(loop, 0);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }

  /** One pass; returns how many rows of each kind went. */
  async prune(): Promise<{ sessions: number; authFailures: number; rateWindows: number }> {
    const now = this.o.now();
    const sessions = await this.o.store.purgeAdminSessions(now);
    const authFailures = await this.o.store.purgeAuthFailures(now - this.o.authFailureWindowMs);
    const rateWindows = await this.o.store.purgeRateWindows(rateWindowAt(now).start - RATE_WINDOW_MS);
    return { sessions, authFailures, rateWindows };
  }
}
