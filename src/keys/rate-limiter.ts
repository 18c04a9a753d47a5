/**
 * Requests-per-minute per key: a sliding window of two one-minute buckets (the previous bucket
 * weighted by how much of it still overlaps the window). In memory, per process.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; current: number; previous: number }>();
  constructor(private readonly now: () => number) {}

  /** Counts one request; returns 0 when allowed, else the seconds to wait before retrying. */
  take(keyId: string, limitPerMinute: number): number {
    const now = this.now();
    const minute = 60_000;
    const bucketStart = now - (now % minute);
    let w = this.windows.get(keyId);
    if (!w) {
      w = { start: bucketStart, current: 0, previous: 0 };
      this.windows.set(keyId, w);
    } else if (w.start !== bucketStart) {
      w.previous = bucketStart - w.start === minute ? w.current : 0;
      w.current = 0;
      w.start = bucketStart;
    }
    const overlap = 1 - (now - bucketStart) / minute;
    const estimate = w.previous * overlap + w.current;
    if (estimate + 1 > limitPerMinute) {
      return Math.max(1, Math.ceil((minute - (now - bucketStart)) / 1000));
    }
    w.current += 1;
    return 0;
  }
}
