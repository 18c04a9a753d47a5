import type { Store } from '../store/store.js';
import type { ArchiveTaskRow } from '../store/rows.js';
import type { UpstreamClients } from '../relay/registry.js';
import type { Upstream } from '../relay/upstream.js';
import type { Logger } from '../logging/logger.js';
import { upstreamRequestHeaders } from '../relay/headers.js';
import { ARCHIVE_VARIANTS, archiveKey, type ArchiveObjectStore, type ArchiveVariant } from './object-store.js';
import { parseVariants, totalBytes, type ArchivedVariants } from './variants.js';

export interface ArchiveTiming {
  /** How often the worker looks for due tasks (and for work to purge). */
  intervalMs: number;
  /** First retry delay; doubles per failed attempt up to maxRetryMs. */
  retryBaseMs: number;
  maxRetryMs: number;
  /** How often retention looks for copies to delete. */
  purgeIntervalMs: number;
}

export const DEFAULT_ARCHIVE_TIMING: ArchiveTiming = { intervalMs: 1000, retryBaseMs: 5_000, maxRetryMs: 30 * 60_000, purgeIntervalMs: 10 * 60_000 };

export interface ArchiveWorkerOptions {
  store: Store;
  /** The upstream clients by id: a job's content is copied from the upstream that made it. */
  upstreams: UpstreamClients;
  objects: ArchiveObjectStore;
  logger: Logger;
  now: () => number;
  instanceId: string;
  /** An instance silent this long is dead; its leases are taken over. Also the lease length. */
  instanceTimeoutMs: number;
  concurrency: number;
  retentionMs: number;
  timing?: Partial<ArchiveTiming>;
  /** Told of each variant stored (bytes) and of each task given up. */
  onStored?: (bytes: number) => void;
  onFailed?: () => void;
}

/** Deletes every stored object of a job (all variants: a copy stored before a crash may be unrecorded). */
export async function removeObjects(objects: ArchiveObjectStore, jobId: string): Promise<void> {
  await Promise.all(ARCHIVE_VARIANTS.map((v) => objects.delete(archiveKey(jobId, v))));
}

/**
 * Copies completed jobs' content from the upstream into the archive (contract §11). Tasks are
 * leased from the store (one instance works on a task), `concurrency` at a time per instance;
 * each variant is streamed from the upstream's download pool into the object store with bounded
 * memory and checked against the upstream's `content-length`. A failed attempt is retried with
 * exponential backoff until the upstream's copy expires; a task whose instance died (or this one,
 * restarted) is leased again once its holder is dead or its lease ran out, and resumes at the first
 * variant not yet stored. Retention runs in the same loop.
 */
export class ArchiveWorker {
  private readonly timing: ArchiveTiming;
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private ticking: Promise<void> | null = null;
  private lastPurge = 0;

  constructor(private readonly o: ArchiveWorkerOptions) {
    this.timing = { ...DEFAULT_ARCHIVE_TIMING, ...o.timing };
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      this.timer = null;
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((err: Error) => this.o.logger.warn({ err: err.message }, 'archive worker: tick failed'))
        .finally(() => {
          this.ticking = null;
          if (!this.stopped) this.timer = setTimeout(loop, this.timing.intervalMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops claiming, aborts the copies in flight (their tasks are taken up again later) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.ticking;
    await Promise.allSettled([...this.running.values()]);
  }

  /** Tasks being copied by this instance now. */
  get inFlight(): number {
    return this.running.size;
  }

  /** One round: lease due tasks up to the free concurrency and start them; purge when it is time. */
  async tick(): Promise<void> {
    const now = this.o.now();
    if (now - this.lastPurge >= this.timing.purgeIntervalMs) {
      this.lastPurge = now;
      await this.purge();
    }
    const free = this.o.concurrency - this.running.size;
    if (free <= 0 || this.stopped) return;
    const tasks = await this.o.store.claimArchiveTasks({
      instanceId: this.o.instanceId,
      now,
      claimUntil: now + this.o.instanceTimeoutMs,
      deadBefore: now - this.o.instanceTimeoutMs,
      limit: free,
    });
    for (const task of tasks) {
      if (this.running.has(task.jobId)) continue;
      const p = this.run(task)
        .catch((err: Error) => this.o.logger.warn({ job_id: task.jobId, err: err.message }, 'archive: task failed unexpectedly'))
        .finally(() => this.running.delete(task.jobId));
      this.running.set(task.jobId, p);
    }
  }

  /** Waits until no task is being copied (tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private async run(task: ArchiveTaskRow): Promise<void> {
    const { store, logger, instanceId } = this.o;
    const variants: ArchivedVariants = parseVariants(task.variants);
    // Keep the lease while copying (a long download outlasts it).
    const renew = setInterval(() => {
      void store.updateArchiveTask(task.jobId, instanceId, { claimUntil: this.o.now() + this.o.instanceTimeoutMs }, this.o.now()).catch(() => {});
    }, Math.max(100, Math.floor(this.o.instanceTimeoutMs / 3)));
    try {
      // The job's upstream, looked up once per task (not per variant), when there is something to copy.
      let upstream: Upstream | undefined;
      for (const variant of ARCHIVE_VARIANTS) {
        if (variant in variants) continue;
        const stored = await this.copy(task, variant, upstream ??= await this.upstreamOf(task));
        variants[variant] = stored;
        const kept = await store.updateArchiveTask(task.jobId, instanceId, { variants: JSON.stringify(variants), bytes: totalBytes(variants) }, this.o.now());
        if (!kept) {
          // Deleted (or taken over) meanwhile: what was just stored belongs to nobody.
          const now = await store.getArchiveTask(task.jobId);
          if (!now || now.state === 'deleted') await removeObjects(this.o.objects, task.jobId).catch(() => {});
          return;
        }
        if (stored) this.o.onStored?.(stored.bytes);
      }
      await store.updateArchiveTask(task.jobId, instanceId, { state: 'archived', archivedAt: this.o.now(), lastError: null, release: true }, this.o.now());
      logger.info({ job_id: task.jobId, bytes: totalBytes(variants) }, 'archive: job archived');
    } catch (err) {
      if (this.abort.signal.aborted) {
        // Stopping: give the task back, so that the next process (or a peer) resumes it at once.
        await store.updateArchiveTask(task.jobId, instanceId, { release: true }, this.o.now()).catch(() => {});
        return;
      }
      const now = this.o.now();
      const attempts = task.attempts + 1;
      const message = (err as Error).message.slice(0, 300);
      if (now >= task.upstreamExpiresAt) {
        const moved = await store.updateArchiveTask(task.jobId, instanceId, { state: 'failed', attempts, lastError: message, release: true }, now);
        if (moved) {
          this.o.onFailed?.();
          logger.warn({ job_id: task.jobId, attempts, err: message }, 'archive: the upstream copy expired before it could be archived');
        }
        return;
      }
      const delay = Math.min(this.timing.maxRetryMs, this.timing.retryBaseMs * 2 ** Math.min(attempts - 1, 20));
      await store.updateArchiveTask(task.jobId, instanceId, { attempts, lastError: message, nextAttemptAt: Math.min(now + delay, task.upstreamExpiresAt), release: true }, now);
      logger.info({ job_id: task.jobId, attempts, retry_in_ms: delay, err: message }, 'archive: attempt failed, will retry');
    } finally {
      clearInterval(renew);
    }
  }

  /** Streams one variant from the upstream into the store; null when the upstream serves none of it. */
  /** The client of the upstream that made the task's job. */
  private async upstreamOf(task: ArchiveTaskRow): Promise<Upstream> {
    const job = await this.o.store.getJob(task.jobId);
    const upstream = job ? this.o.upstreams.client(job.upstreamId) : undefined;
    // An upstream no longer configured: retried (with backoff) until its copy would have expired.
    if (!upstream) throw new Error(`the job's upstream (${job?.upstreamId ?? 'unknown job'}) is not configured`);
    return upstream;
  }

  private async copy(task: ArchiveTaskRow, variant: ArchiveVariant, upstream: Upstream): Promise<{ bytes: number; contentType: string } | null> {
    const res = await upstream.request({
      method: 'GET',
      path: `/videos/${encodeURIComponent(task.videoId)}/content?variant=${variant}`,
      headers: upstreamRequestHeaders({}, upstream.apiKey),
      signal: this.abort.signal,
    });
    if (res.status !== 200) {
      await res.body.dump().catch(() => {});
      // Thumbnails and spritesheets are optional: an upstream that has none answers 404 (or 400
      // for a variant it does not know). The video itself must be there.
      // (The video is copied first, so the job's content does exist.)
      if (variant !== 'video' && (res.status === 404 || res.status === 400)) return null;
      throw new Error(`upstream answered ${res.status} for the ${variant}`);
    }
    const lengthHeader = res.headers['content-length'];
    const length = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    const typeHeader = res.headers['content-type'];
    const contentType = typeof typeHeader === 'string' ? typeHeader : 'application/octet-stream';
    const bytes = await this.o.objects.put(archiveKey(task.jobId, variant), res.body, { contentType, length }, this.abort.signal);
    return { bytes, contentType };
  }

  /**
   * Retention and deletes: removes the stored objects of tasks deleted but not yet purged (a
   * DELETE whose removal failed or whose process died) and of jobs completed more than
   * ARCHIVE_RETENTION_DAYS ago. Several instances may do it at once: removing twice is harmless.
   */
  async purge(): Promise<number> {
    const now = this.o.now();
    let purged = 0;
    for (;;) {
      const due = await this.o.store.archiveTasksToPurge(now - this.o.retentionMs, 100);
      if (due.length === 0) break;
      for (const t of due) {
        if (t.state !== 'deleted') await this.o.store.markArchiveDeleted(t.jobId, now);
        try {
          await removeObjects(this.o.objects, t.jobId);
          await this.o.store.markArchivePurged(t.jobId, now);
          purged++;
        } catch (err) {
          this.o.logger.warn({ job_id: t.jobId, err: (err as Error).message }, 'archive: could not delete an archived copy; will retry');
          return purged;
        }
      }
      if (due.length < 100) break;
    }
    if (purged > 0) this.o.logger.info({ purged }, 'archive: deleted copies past retention or deleted by their owner');
    return purged;
  }
}
