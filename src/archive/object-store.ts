import type { Readable } from 'node:stream';

/**
 * Where archived copies live (contract §11): a directory (`file:`) or an S3-compatible bucket.
 * Keys are derived from the job (see archiveKey), never from client input.
 */
export interface ArchiveObjectStore {
  /** For logs and the admin view: `file` or `s3`. */
  readonly kind: 'file' | 's3';
  /**
   * Streams `body` into `key` with bounded memory. Resolves with the bytes stored; rejects (and
   * stores nothing) when the body fails or its length differs from `length` (when known). Nothing
   * is visible under `key` before the whole object is: a partial object is never served.
   */
  put(key: string, body: Readable, meta: { contentType: string; length: number | null }, signal?: AbortSignal): Promise<number>;
  /** Bytes [start, end] (inclusive) of `key`, or the whole object; undefined when there is none. */
  get(key: string, range?: { start: number; end: number }): Promise<Readable | undefined>;
  /** Removes `key`; no error when it does not exist. */
  delete(key: string): Promise<void>;
}

export const ARCHIVE_VARIANTS = ['video', 'thumbnail', 'spritesheet'] as const;
export type ArchiveVariant = (typeof ARCHIVE_VARIANTS)[number];

/** The object key of a job's variant: reelay's own job id (`job_…`) and the variant, nothing else. */
export function archiveKey(jobId: string, variant: ArchiveVariant): string {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(jobId)) throw new Error('archive keys are made from job ids');
  return `${jobId}/${variant}`;
}

/** A body whose length differs from what the upstream announced. */
export class LengthMismatch extends Error {
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`expected ${expected} bytes, got ${got}`);
  }
}
