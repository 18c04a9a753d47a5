import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { notFound } from '../errors.js';
import { jsonBody } from './input.js';
import { isEnabled, upstreamState } from '../relay/routing.js';
import type { UpstreamHealthRow } from '../store/rows.js';
import type { UpstreamSpec } from '../relay/upstreams-file.js';
import type { Actor } from '../db/billing-store.js';

export const patchUpstreamSchema = z.object({ enabled: z.boolean() }).strict();

export type UpstreamStateName = 'ok' | 'cooling_down' | 'disabled' | 'removed';

/** One upstream as GET /admin/upstreams shows it (contract §10). Never its credential. */
export interface UpstreamView {
  id: string;
  base_url: string | null;
  models: string[] | null;
  priority: number | null;
  weight: number | null;
  enabled: boolean;
  state: UpstreamStateName;
  cooldown_until: string | null;
  last_error: string | null;
  inflight_jobs: number;
  max_inflight_jobs: number | null;
  jobs_24h: number;
  failed_24h: number;
  /** Of the jobs it completed among those created in the last 24 h (null: none). */
  p50_seconds_to_complete: number | null;
  p95_seconds_to_complete: number | null;
}

/** Completed jobs read for the time-to-complete percentiles: the most recent this many of the last 24 h. */
export const COMPLETION_SAMPLE = 50_000;

/** The nearest-rank percentile (p in (0, 1]) of `values`, rounded to 0.1 s; null when there are none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return Math.round(v * 10) / 10;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Every configured upstream, then every id that jobs still refer to but the file no longer lists (`removed`). */
export async function listUpstreams(deps: Deps): Promise<UpstreamView[]> {
  const now = deps.now();
  const since = now - 24 * 3600_000;
  const [health, inflight, stats, times] = await Promise.all([
    deps.store.listUpstreamHealth(),
    deps.store.openJobsByUpstream(),
    deps.store.upstreamJobStats(since),
    deps.store.upstreamCompletionTimes(since, COMPLETION_SAMPLE),
  ]);
  const timesOf = new Map<string, number[]>();
  for (const t of times) (timesOf.get(t.upstreamId) ?? timesOf.set(t.upstreamId, []).get(t.upstreamId)!).push(t.ms / 1000);
  const healthOf = new Map(health.map((r) => [r.id, r]));
  const inflightOf = new Map(inflight.map((r) => [r.upstreamId, r.n]));
  const statsOf = new Map(stats.map((r) => [r.upstreamId, r]));
  const view = (id: string, spec: UpstreamSpec | undefined, h: UpstreamHealthRow | undefined): UpstreamView => {
    const cooling = h?.cooldownUntil != null && h.cooldownUntil > now;
    return {
      id,
      base_url: spec?.baseUrl ?? null,
      models: spec?.models ? [...spec.models] : null,
      priority: spec?.priority ?? null,
      weight: spec?.weight ?? null,
      enabled: spec ? isEnabled(spec, h) : false,
      state: spec ? upstreamState(spec, h, now) : 'removed',
      cooldown_until: cooling ? iso(h!.cooldownUntil) : null,
      last_error: h?.lastError ?? null,
      inflight_jobs: inflightOf.get(id) ?? 0,
      max_inflight_jobs: spec?.maxInflightJobs ?? null,
      jobs_24h: statsOf.get(id)?.jobs ?? 0,
      failed_24h: statsOf.get(id)?.failed ?? 0,
      p50_seconds_to_complete: percentile(timesOf.get(id) ?? [], 0.5),
      p95_seconds_to_complete: percentile(timesOf.get(id) ?? [], 0.95),
    };
  };
  const configured = deps.upstreams.specs.map((s) => view(s.id, s, healthOf.get(s.id)));
  const known = new Set(deps.upstreams.specs.map((s) => s.id));
  const referred = new Set([...inflightOf.keys(), ...statsOf.keys()]);
  const removed = [...referred].filter((id) => !known.has(id)).sort().map((id) => view(id, undefined, healthOf.get(id)));
  return [...configured, ...removed];
}

/**
 * Enables or disables an upstream by hand, with its audit entry, in one store unit: what
 * PATCH /admin/upstreams/{id} and the dashboard's button both do. Never undone automatically.
 */
export async function setUpstreamEnabled(deps: Deps, id: string, enabled: boolean, who: Actor): Promise<void> {
  await deps.store.setUpstreamEnabled(id, enabled, who, { action: enabled ? 'upstream.enable' : 'upstream.disable', targetId: id, details: { enabled } });
}

/** GET /admin/upstreams and PATCH /admin/upstreams/{id} ({enabled}, audited; never undone automatically). */
export function upstreamsRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => c.json({ data: await listUpstreams(deps), has_more: false }));

  app.patch('/:id', async (c) => {
    const id = c.req.param('id');
    const spec = deps.upstreams.get(id)?.spec;
    if (!spec) throw notFound('upstream');
    const body = await jsonBody(c, patchUpstreamSchema);
    const who = { actor: c.get('adminActor'), requestId: c.get('state').requestId, now: deps.now() };
    await setUpstreamEnabled(deps, id, body.enabled, who);
    return c.json((await listUpstreams(deps)).find((u) => u.id === id));
  });
  return app;
}
