import type { UpstreamFailure } from './upstream.js';

/**
 * How a billable create's attempt at one upstream ended, and what may follow (contract §10,
 * "Failover without duplicates"). Pure: the create path, the health rules and the tests read it.
 *
 * Only an attempt after which no upstream job can exist moves on to the next upstream: the
 * connection failed before the request was sent, or the upstream answered 429 or 503. A timeout or
 * a connection lost after sending is an unknown outcome, never sent anywhere else.
 */
export type AttemptResult = 'ok' | 'refused' | 'rate_limited' | 'unavailable' | 'error' | 'unreachable' | 'unknown';

export interface AttemptVerdict {
  result: AttemptResult;
  /** Certainly no job upstream: the next candidate may be tried. */
  failover: boolean;
  /** Counts as a failed create for the upstream's health (connection failures, 429, 5xx). */
  healthFailure: boolean;
}

/** An answer the upstream gave (its HTTP status). */
export function classifyAnswer(status: number): AttemptVerdict {
  if (status === 429) return { result: 'rate_limited', failover: true, healthFailure: true };
  if (status === 503) return { result: 'unavailable', failover: true, healthFailure: true };
  if (status >= 500) return { result: 'error', failover: false, healthFailure: true };
  if (status >= 200 && status < 300) return { result: 'ok', failover: false, healthFailure: false };
  return { result: 'refused', failover: false, healthFailure: false };
}

/** No answer came: only a request that certainly never left may go elsewhere. */
export function classifyNoAnswer(failure: UpstreamFailure): AttemptVerdict {
  if (!failure.maySent && failure.kind === 'unreachable') return { result: 'unreachable', failover: true, healthFailure: true };
  return { result: 'unknown', failover: false, healthFailure: false };
}
