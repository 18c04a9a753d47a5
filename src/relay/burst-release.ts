import { createRequire } from 'node:module';
import { exposedGc, type Gc } from './relayed-garbage.js';

/**
 * Gives memory back after a burst of downloads.
 *
 * While a download is relayed to a slow client, the chunks its stream holds (about two 64 KiB socket
 * reads) live long enough to reach V8's old generation. When the burst ends they are garbage, but
 * nothing collects them until some later full collection; and once freed, glibc keeps their pages
 * in the middle of its heap. Either way the process stays at the burst's high-water mark, and the
 * next burst starts from there.
 *
 * So once no download has been in progress for QUIET_MS, and at least MIN_BYTES were relayed since
 * the last release, this runs one full collection and then, when V8's background sweeper has freed
 * the chunks, glibc's malloc_trim(0) (through the optional `@reelay/malloc-trim` addon; without it,
 * only the collection runs). The collection takes tens of milliseconds; it runs only when no
 * download is in progress, at most once per MIN_BYTES relayed.
 */
export const QUIET_MS = 1000;
/** V8 frees the collected chunks on a background thread after the collection: trim after that. */
export const TRIM_AFTER_GC_MS = 200;
export const MIN_BYTES = 32 * 1024 * 1024;

/** malloc_trim(0); true if memory was given back. */
export type Trim = () => boolean;

/** The `@reelay/malloc-trim` addon, or null where it did not build (an optional dependency). */
export function loadMallocTrim(): Trim | null {
  try {
    const addon = createRequire(import.meta.url)('@reelay/malloc-trim') as { trim?: unknown };
    return typeof addon.trim === 'function' ? (addon.trim as Trim) : null;
  } catch {
    return null;
  }
}

export interface BurstReleaseOptions {
  findGc: () => Gc | null;
  findTrim: () => Trim | null;
  quietMs: number;
  trimAfterMs: number;
  minBytes: number;
}

export class BurstRelease {
  private inProgress = 0;
  private bytesSinceRelease = 0;
  private timer: NodeJS.Timeout | null = null;
  private gc: Gc | null | undefined;
  private trim: Trim | null | undefined;
  /** Releases run so far (full collections). */
  releases = 0;

  constructor(private readonly options: BurstReleaseOptions) {}

  /** A download started relaying: a pending release waits for the burst to end again. */
  started(): void {
    this.inProgress++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A download stopped relaying (finished, failed or abandoned) after `bytes` bytes. */
  ended(bytes: number): void {
    this.inProgress--;
    this.bytesSinceRelease += bytes;
    if (this.inProgress > 0 || this.bytesSinceRelease < this.options.minBytes || this.timer) return;
    this.timer = setTimeout(() => this.release(), this.options.quietMs);
    this.timer.unref();
  }

  private release(): void {
    this.timer = null;
    if (this.inProgress > 0) return;
    if (this.gc === undefined) this.gc = this.options.findGc();
    if (!this.gc) return;
    this.bytesSinceRelease = 0;
    this.releases++;
    this.gc();
    if (this.trim === undefined) this.trim = this.options.findTrim();
    const trim = this.trim;
    if (!trim) return;
    setTimeout(() => {
      // A download that started meanwhile reuses the free memory; trimming it away would be waste.
      if (this.inProgress === 0) trim();
    }, this.options.trimAfterMs).unref();
  }
}

/** The process-wide tracker that Upstream.relay tells about every download it relays. */
export const downloadBursts = new BurstRelease({
  findGc: exposedGc,
  findTrim: loadMallocTrim,
  quietMs: QUIET_MS,
  trimAfterMs: TRIM_AFTER_GC_MS,
  minBytes: MIN_BYTES,
});
