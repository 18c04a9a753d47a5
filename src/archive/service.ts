import type { Readable } from 'node:stream';
import type { Store } from '../store/store.js';
import type { ArchiveTaskRow, JobRow } from '../store/rows.js';
import type { ArchiveConfig } from '../config.js';
import type { Logger } from '../logging/logger.js';
import { DirectoryStore } from './dir-store.js';
import { S3Store } from './s3-store.js';
import { archiveKey, type ArchiveObjectStore, type ArchiveVariant } from './object-store.js';
import { parseVariants, type StoredVariant } from './variants.js';
import { removeObjects } from './worker.js';

/** The configured object store, or null when ARCHIVE_URL=off. */
export function objectStoreFor(config: ArchiveConfig): ArchiveObjectStore | null {
  const t = config.target;
  if (t.kind === 'off') return null;
  if (t.kind === 'file') return new DirectoryStore(t.dir);
  return new S3Store({ bucket: t.bucket, prefix: t.prefix, region: t.region, endpoint: t.endpoint, forcePathStyle: t.forcePathStyle, credentials: t.credentials });
}

/** An archived variant ready to serve. */
export interface ArchivedCopy {
  variant: StoredVariant;
  open(range?: { start: number; end: number }): Promise<Readable | undefined>;
}

/**
 * What the routes need of the archive: the copy to serve, the expiry to show, and deletion.
 * The copying itself is the ArchiveWorker's.
 */
export class Archive {
  constructor(
    readonly objects: ArchiveObjectStore,
    private readonly store: Store,
    readonly retentionMs: number,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** The archived copy of a completed job's variant, when the archive holds one. */
  async copyOf(job: JobRow, variant: ArchiveVariant): Promise<ArchivedCopy | undefined> {
    if (job.status !== 'completed') return undefined;
    const task = await this.store.getArchiveTask(job.id);
    if (!task || task.state === 'deleted') return undefined;
    const stored = parseVariants(task.variants)[variant];
    if (!stored) return undefined;
    const key = archiveKey(job.id, variant);
    return { variant: stored, open: (range) => this.objects.get(key, range) };
  }

  /** The job's archive task (for expiry and the admin view). */
  task(jobId: string): Promise<ArchiveTaskRow | undefined> {
    return this.store.getArchiveTask(jobId);
  }

  tasks(jobIds: string[]): Promise<ArchiveTaskRow[]> {
    return this.store.getArchiveTasks(jobIds);
  }

  /** Until when the archive keeps the job's content (unix seconds), or null when it will not have it. */
  expiresAtS(task: ArchiveTaskRow | undefined): number | null {
    if (!task || (task.state !== 'pending' && task.state !== 'archived')) return null;
    return Math.floor((task.completedAt + this.retentionMs) / 1000);
  }

  /** DELETE of a video: the task is marked deleted and its copies removed (retention retries a removal that fails). */
  async deleteJob(jobId: string): Promise<void> {
    const now = this.now();
    await this.store.markArchiveDeleted(jobId, now);
    try {
      await removeObjects(this.objects, jobId);
      await this.store.markArchivePurged(jobId, now);
    } catch (err) {
      this.logger.warn({ job_id: jobId, err: (err as Error).message }, 'archive: could not delete the archived copies now; retention will');
    }
  }
}

/**
 * A video object with its `expires_at` the later of the upstream's and the archive's (contract §11).
 * `archiveS` null: the object as it is.
 */
export function withArchiveExpiry(object: Record<string, unknown>, archiveS: number | null): Record<string, unknown> {
  if (archiveS === null) return object;
  const upstream = typeof object.expires_at === 'number' ? object.expires_at : null;
  return { ...object, expires_at: upstream === null ? archiveS : Math.max(upstream, archiveS) };
}
