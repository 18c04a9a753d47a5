/**
 * The requests-per-minute window, as both engines compute it: a sliding window of two one-minute
 * buckets, the previous bucket weighted by how much of it the sliding minute still covers. A
 * request is allowed when
 *
 *   previous × (MINUTE − elapsed) / MINUTE + current + 1 ≤ limit
 *
 * which the engines evaluate multiplied through by MINUTE, in integers (no float rounding):
 *
 *   previous × remainingMs + (current + 1) × MINUTE ≤ limit × MINUTE
 */
export const RATE_WINDOW_MS = 60_000;

export interface RateWindow {
  /** Start of the current one-minute bucket. */
  start: number;
  /** Start of the bucket before it. */
  previousStart: number;
  /** How much of the previous bucket the sliding minute still covers, in ms. */
  remainingMs: number;
  /** When refused: the whole seconds until the current bucket ends (at least 1). */
  retryAfterSeconds: number;
}

export function rateWindowAt(now: number): RateWindow {
  const elapsed = now % RATE_WINDOW_MS;
  const start = now - elapsed;
  const remainingMs = RATE_WINDOW_MS - elapsed;
  return { start, previousStart: start - RATE_WINDOW_MS, remainingMs, retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)) };
}
