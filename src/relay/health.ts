import type { UpstreamHealthRow } from '../store/rows.js';

/**
 * An upstream's health as creates report it (contract §10), as a pure function over the shared
 * row, so that both engines apply the same rule in their transaction: 5 failed creates in a row
 * (connection failures, 429, 5xx) cool the upstream down for 30 s; after that, one trial create
 * (claimed by one instance); a failed trial doubles the cooldown, up to 10 minutes; any success
 * ends it. A 429's `retry-after` cools it down at once, for at least that long. The admin's
 * manual state is never touched here.
 */
export const FAILURES_BEFORE_COOLDOWN = 5;
export const FIRST_COOLDOWN_MS = 30_000;
export const MAX_COOLDOWN_MS = 600_000;

export type CreateResult = { ok: true } | { ok: false; error: string; retryAfterMs: number | null };

export function emptyHealth(id: string, now: number): UpstreamHealthRow {
  return {
    id,
    consecutiveFailures: 0,
    cooldownUntil: null,
    cooldownMs: 0,
    trialUntil: null,
    lastError: null,
    lastErrorAt: null,
    manualEnabled: null,
    manualBy: null,
    updatedAt: now,
  };
}

export function nextHealth(row: UpstreamHealthRow | undefined, id: string, result: CreateResult, now: number): UpstreamHealthRow {
  const base = row ?? emptyHealth(id, now);
  if (result.ok) return { ...base, consecutiveFailures: 0, cooldownUntil: null, cooldownMs: 0, trialUntil: null, updatedAt: now };
  const failures = base.consecutiveFailures + 1;
  const coolingNow = base.cooldownUntil !== null && base.cooldownUntil > now;
  let { cooldownUntil, cooldownMs, trialUntil } = base;
  if (failures >= FAILURES_BEFORE_COOLDOWN && !coolingNow) {
    // The fifth failure in a row, or a failed trial after a cooldown.
    cooldownMs = cooldownMs === 0 ? FIRST_COOLDOWN_MS : Math.min(cooldownMs * 2, MAX_COOLDOWN_MS);
    cooldownUntil = now + cooldownMs;
    trialUntil = null;
  }
  if (result.retryAfterMs !== null && result.retryAfterMs > 0) cooldownUntil = Math.max(cooldownUntil ?? 0, now + result.retryAfterMs);
  return { ...base, consecutiveFailures: failures, cooldownUntil, cooldownMs, trialUntil, lastError: result.error.slice(0, 200), lastErrorAt: now, updatedAt: now };
}

/** Whether a row's upstream needs a trial create (cooled down, not yet proven healthy again). */
export function needsTrial(row: UpstreamHealthRow | undefined): boolean {
  return row !== undefined && row.consecutiveFailures >= FAILURES_BEFORE_COOLDOWN;
}
