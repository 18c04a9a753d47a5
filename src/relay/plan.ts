import type { Deps } from '../deps.js';
import type { UpstreamHealthRow } from '../store/rows.js';
import { routeCreate, type Candidate } from './routing.js';
import { noUpstreamAvailable, upstreamGone } from './registry.js';
import { classifyAnswer, classifyNoAnswer, type AttemptVerdict } from './failover.js';
import type { UpstreamFailure } from './upstream.js';
import { parseRetryAfter } from '../billing/lookup.js';

/** The upstreams a billable create may go to, in the order to try them, and their health as read. */
export interface CreatePlan {
  candidates: Candidate[];
  health: Map<string, UpstreamHealthRow>;
}

/**
 * Plans a billable create (contract §10): a follow-up of an existing video (remix, edit,
 * extension) goes to its source's upstream only, whatever its health; any other create is routed
 * by model, state, capacity, priority and weight. Throws 503 upstream_unavailable (with
 * retry-after) when no upstream can take it; nothing has been held yet then.
 */
export async function planCreate(deps: Deps, model: string, stickyUpstreamId: string | null): Promise<CreatePlan> {
  const health = new Map((await deps.store.listUpstreamHealth()).map((r) => [r.id, r]));
  if (stickyUpstreamId !== null) {
    const up = deps.upstreams.get(stickyUpstreamId);
    if (!up) throw upstreamGone();
    return { candidates: [{ spec: up.spec, trial: false }], health };
  }
  const specs = deps.upstreams.specs;
  const limited = specs.some((s) => s.maxInflightJobs !== null);
  const inflight = new Map(limited ? (await deps.store.openJobsByUpstream()).map((r) => [r.upstreamId, r.n]) : []);
  const now = deps.now();
  const candidates = routeCreate({ upstreams: specs, model, health, inflight, now, random: deps.random, applyHealth: deps.upstreams.fromFile });
  if (candidates.length === 0) throw noUpstreamAvailable(deps.upstreams.fromFile ? retryAfterSeconds(health, now) : 5);
  return { candidates, health };
}

/** When to try again: the soonest end of a cooldown, else 5 s. */
export function retryAfterSeconds(health: ReadonlyMap<string, UpstreamHealthRow>, now: number): number {
  let soonest = Infinity;
  for (const row of health.values()) if (row.cooldownUntil !== null && row.cooldownUntil > now) soonest = Math.min(soonest, row.cooldownUntil - now);
  return soonest === Infinity ? 5 : soonest / 1000;
}

/**
 * Records one create attempt's effect on its upstream's shared health: failures always, a success
 * only when the row shows something to clear (no write per healthy create).
 */
export async function recordAttemptHealth(
  deps: Deps,
  upstreamId: string,
  verdict: AttemptVerdict,
  before: UpstreamHealthRow | undefined,
  retryAfter: string | string[] | undefined,
  status: number | null = null,
): Promise<void> {
  // The implicit `default` upstream has nowhere else to send jobs: no health is kept for it.
  if (!deps.upstreams.fromFile) return;
  const now = deps.now();
  if (verdict.healthFailure) {
    const retryAfterMs = verdict.result === 'rate_limited' ? parseRetryAfter(retryAfter, now) : null;
    await deps.store.recordUpstreamCreate(upstreamId, { ok: false, error: verdictError(verdict, status), retryAfterMs }, now);
  } else if (verdict.result === 'ok' || verdict.result === 'refused') {
    if (before && (before.consecutiveFailures > 0 || before.cooldownUntil !== null || before.trialUntil !== null)) {
      await deps.store.recordUpstreamCreate(upstreamId, { ok: true }, now);
    }
  }
}

function verdictError(v: AttemptVerdict, status: number | null): string {
  switch (v.result) {
    case 'rate_limited':
      return 'upstream answered 429';
    case 'unavailable':
      return 'upstream answered 503';
    case 'unreachable':
      return 'connection failed';
    default:
      return `upstream answered ${status ?? '5xx'}`;
  }
}

export { classifyAnswer, classifyNoAnswer };
export type { UpstreamFailure };
