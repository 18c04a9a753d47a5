import type { Store } from '../db/store.js';
import type { RequestLogRow } from '../db/request-log-store.js';
import type { Logger } from './logger.js';

/**
 * A full queue is written at once, in one transaction that holds the event loop: every request
 * waits for it. 1000 rows took about 10 ms on this machine's disk, 5000 rows (the earlier limit,
 * reached twice a second at 10,000 polls/s) 50–60 ms, for the same cost per row; 500 rows cost
 * about a quarter more per row (docs/performance.md, change 29).
 */
export const REQUEST_LOG_BATCH_ROWS = 1000;

/**
 * Request-log rows are high-volume and best effort: queued in memory and written in one
 * transaction per batch, at least once a second, whenever REQUEST_LOG_BATCH_ROWS are waiting,
 * and on shutdown, so a status poll never waits for a disk sync. Keys' last-used times ride along
 * in the same flush.
 */
export class RequestLogWriter {
  private queue: RequestLogRow[] = [];
  private lastUsed = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  /** The last write started (each starts after the one before it has ended). */
  private writing: Promise<void> = Promise.resolve();
  private writesInFlight = 0;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
    private readonly maxQueue = REQUEST_LOG_BATCH_ROWS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  push(row: RequestLogRow): void {
    this.queue.push(row);
    if (row.keyId) this.lastUsed.set(row.keyId, row.createdAt);
    if (this.queue.length >= this.maxQueue) void this.flush();
  }

  /**
   * Writes the queued rows (resolves once written; a failure is logged, never thrown). Writes run
   * one after another: a flush waits for the one in flight, so stop() returns only when every
   * write has ended (a timer flush still running at shutdown would otherwise meet a closed pool).
   */
  flush(): Promise<void> {
    if (this.queue.length === 0 && this.lastUsed.size === 0) return this.writing;
    const rows = this.queue;
    const used = this.lastUsed;
    this.queue = [];
    this.lastUsed = new Map();
    // With none in flight the write starts now (on SQLite it then runs before flush() returns).
    const write = this.writesInFlight === 0 ? this.write(rows, used) : this.writing.then(() => this.write(rows, used));
    this.writesInFlight++;
    this.writing = write.finally(() => this.writesInFlight--);
    return this.writing;
  }

  private async write(rows: RequestLogRow[], used: Map<string, number>): Promise<void> {
    try {
      await this.store.insertRequestLogBatch(rows);
      await this.store.touchKeys(used);
    } catch (err) {
      this.logger.error({ err: (err as Error).message, rows: rows.length }, 'request log flush failed');
    }
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.flush();
  }
}
