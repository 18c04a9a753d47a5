import type { Store } from '../db/store.js';
import type { Logger } from './logger.js';

const DAY_MS = 24 * 3600_000;

export interface RequestLogPrunerOptions {
  store: Pick<Store, 'deleteRequestLogBefore'>;
  logger: Logger;
  now: () => number;
  /** Rows older than this many days are deleted (REQUEST_LOG_RETENTION_DAYS). */
  retentionDays: number;
  /** Time between passes; the first pass runs right after start(). */
  intervalMs?: number;
  /** Rows per delete statement. */
  batchRows?: number;
}

/** Lets requests and timers run between two delete statements. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Deletes request-log rows past the retention period in the background: a pass every few minutes,
 * each a series of short statements of at most `batchRows` rows, handing the event loop back
 * between statements so that a large backlog (the first pass after a long stop, or after the
 * retention was shortened) never holds up requests. Only the request log is touched: the ledger,
 * jobs, keys and audit are kept for good.
 */
export class RequestLogPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private started = false;
  /** Set by stop(): no further passes, and the pass in progress ends after its statement. */
  private stopped = false;

  constructor(private readonly o: RequestLogPrunerOptions) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.prune()
        .catch((err) => {
          this.o.logger.error({ err: (err as Error).message }, 'request-log retention pass failed');
          return 0;
        })
        .finally(() => {
          this.running = null;
          if (!this.stopped) {
            this.timer = setTimeout(loop, this.o.intervalMs ?? 5 * 60_000);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(loop, 0);
    this.timer.unref();
  }

  /** Stops scheduling passes; a pass in progress ends after its current statement. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }

  /** One pass: deletes every row past retention, batch by batch. Returns how many rows went. */
  async prune(): Promise<number> {
    const batchRows = this.o.batchRows ?? 1000;
    // Fixed for the whole pass: rows that age past the boundary meanwhile wait for the next one.
    const before = this.o.now() - this.o.retentionDays * DAY_MS;
    let deleted = 0;
    for (;;) {
      const n = await this.o.store.deleteRequestLogBefore(before, batchRows);
      deleted += n;
      if (n < batchRows) break;
      await yieldToEventLoop();
      if (this.stopped) break;
    }
    if (deleted > 0) this.o.logger.info({ rows: deleted, before: new Date(before).toISOString() }, 'old request-log rows deleted');
    return deleted;
  }
}
