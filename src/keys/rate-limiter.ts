import type { Store } from '../store/store.js';

/**
 * Requests-per-minute per key: a sliding window of two one-minute buckets (the previous bucket
 * weighted by how much of it still overlaps the window; see src/store/rate-window.ts). The count
 * lives in the database (rate_windows), so a key's limit counts its requests on every instance
 * together; each check is one atomic statement, made only for keys that have a limit.
 */
export class RateLimiter {
  constructor(
    private readonly store: Pick<Store, 'takeRateSlot'>,
    private readonly now: () => number,
  ) {}

  /** Counts one request; resolves 0 when allowed, else the seconds to wait before retrying. */
  take(keyId: string, limitPerMinute: number): Promise<number> {
    return this.store.takeRateSlot(keyId, limitPerMinute, this.now());
  }
}
