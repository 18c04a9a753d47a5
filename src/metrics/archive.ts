/**
 * The archive (contract §11): bytes copied into it and tasks given up are counted as they happen;
 * the queue (tasks still to copy) is read from the database at scrape time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class ArchiveMetrics {
  private readonly bytes: Counter;
  private readonly failures: Counter;

  constructor(registry: Registry, queueLength: () => Promise<number>) {
    const registers = [registry];
    this.bytes = new Counter({ name: 'reelay_archive_bytes_total', help: 'Bytes of finished videos (all variants) copied into the archive by this instance.', registers });
    this.failures = new Counter({
      name: 'reelay_archive_failures_total',
      help: 'Archive tasks given up by this instance: the upstream copy expired before it could be archived.',
      registers,
    });
    new Gauge({
      name: 'reelay_archive_queue_length',
      help: 'Completed jobs whose content is still to be copied into the archive (all instances).',
      registers,
      async collect() {
        this.set(await queueLength());
      },
    });
  }

  stored(bytes: number): void {
    this.bytes.inc(bytes);
  }

  failed(): void {
    this.failures.inc();
  }
}
