import type { UpstreamHealthRow } from '../store/rows.js';
import type { UpstreamSpec } from './upstreams-file.js';
import { needsTrial } from './health.js';

/**
 * Routing a billable create (contract §10), pure: the upstreams that serve the model, are enabled
 * (an admin's manual state over the file's), are not cooling down (nor running another instance's
 * trial create) and are below max_inflight_jobs, ordered by priority (lowest first) and, within a
 * priority, in a random order drawn in proportion to weight. The caller tries them in turn.
 */
export type UpstreamState = 'ok' | 'cooling_down' | 'disabled';

export function isEnabled(spec: UpstreamSpec, health: UpstreamHealthRow | undefined): boolean {
  return health?.manualEnabled ?? spec.enabled;
}

export function upstreamState(spec: UpstreamSpec, health: UpstreamHealthRow | undefined, now: number): UpstreamState {
  if (!isEnabled(spec, health)) return 'disabled';
  if (health?.cooldownUntil != null && health.cooldownUntil > now) return 'cooling_down';
  if (needsTrial(health) && health!.trialUntil !== null && health!.trialUntil > now) return 'cooling_down';
  return 'ok';
}

export function servesModel(spec: UpstreamSpec, model: string): boolean {
  return spec.models === null || spec.models.includes(model);
}

export interface RouteInput {
  upstreams: readonly UpstreamSpec[];
  /** null: any model (characters, which no model prices). */
  model: string | null;
  health: ReadonlyMap<string, UpstreamHealthRow>;
  /** Open jobs per upstream id, from the database. */
  inflight: ReadonlyMap<string, number>;
  now: number;
  /** [0, 1), like Math.random (tests pass a seeded one). */
  random: () => number;
  /** false: cooldowns are not applied (the implicit `default` upstream, which has nowhere else to go). */
  applyHealth?: boolean;
}

export interface Candidate {
  spec: UpstreamSpec;
  /** The upstream cooled down and must pass one trial create first (claimed before sending). */
  trial: boolean;
}

export function routeCreate(input: RouteInput): Candidate[] {
  const eligible = input.upstreams.filter((spec) => {
    if (input.model !== null && !servesModel(spec, input.model)) return false;
    const state = upstreamState(spec, input.health.get(spec.id), input.now);
    if (state === 'disabled' || (state === 'cooling_down' && input.applyHealth !== false)) return false;
    return spec.maxInflightJobs === null || (input.inflight.get(spec.id) ?? 0) < spec.maxInflightJobs;
  });
  const priorities = [...new Set(eligible.map((s) => s.priority))].sort((a, b) => a - b);
  const out: Candidate[] = [];
  for (const p of priorities) {
    for (const spec of weightedOrder(eligible.filter((s) => s.priority === p), input.random)) {
      out.push({ spec, trial: input.applyHealth !== false && needsTrial(input.health.get(spec.id)) });
    }
  }
  return out;
}

/** A random order in which each next element is drawn in proportion to its weight. */
export function weightedOrder(specs: UpstreamSpec[], random: () => number): UpstreamSpec[] {
  const left = [...specs];
  const out: UpstreamSpec[] = [];
  while (left.length > 0) {
    const total = left.reduce((n, s) => n + s.weight, 0);
    let r = random() * total;
    let i = 0;
    for (; i < left.length - 1; i++) {
      r -= left[i]!.weight;
      if (r < 0) break;
    }
    out.push(left.splice(i, 1)[0]!);
  }
  return out;
}
