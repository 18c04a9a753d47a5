import type { JobRow } from './billing-store.js';

/**
 * How long the /v1 routes may reuse a job's row instead of reading it again. Every change this
 * process makes to a job drops its row at once (see `forget`), so the limit only bounds how late a
 * change made by another process on the same database is seen.
 */
export const JOB_ROW_CACHE_MS = 1000;
const MAX_ENTRIES = 1000;

/** Video ids are unique per upstream, not globally: rows are cached per (key, video id). */
const cacheKey = (keyId: string, videoId: string) => `${keyId}\n${videoId}`;

/**
 * Job rows by (key, video id) for the ownership check of /v1 requests, so a client polling a video many
 * times a second costs no query per poll. Rows are shared, never copied: callers must not mutate
 * them. Safe to serve stale for a moment because whatever a request does with the row that moves
 * money or state is compare-and-set in the database (settleJob, recordProgress, …).
 */
export class JobRowCache {
  private readonly byVideo = new Map<string, { row: JobRow; at: number }>();
  /** job id → cache key, so a write (which knows the job id) can drop the row. */
  private readonly videoOfJob = new Map<string, string>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  get(keyId: string, videoId: string): JobRow | undefined {
    const hit = this.byVideo.get(cacheKey(keyId, videoId));
    if (!hit) return undefined;
    if (this.clock() - hit.at < JOB_ROW_CACHE_MS) return hit.row;
    this.byVideo.delete(cacheKey(keyId, videoId));
    this.videoOfJob.delete(hit.row.id);
    return undefined;
  }

  set(row: JobRow): void {
    if (row.videoId === null) return;
    if (this.byVideo.size >= MAX_ENTRIES) this.clear();
    const k = cacheKey(row.keyId, row.videoId);
    this.byVideo.set(k, { row, at: this.clock() });
    this.videoOfJob.set(row.id, k);
  }

  /** Called by every write to a job's row. */
  forget(jobId: string): void {
    const videoId = this.videoOfJob.get(jobId);
    if (videoId === undefined) return;
    this.videoOfJob.delete(jobId);
    this.byVideo.delete(videoId);
  }

  clear(): void {
    this.byVideo.clear();
    this.videoOfJob.clear();
  }
}
