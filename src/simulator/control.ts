/**
 * `/_sim/*`: HTTP controls so a simulator in another process can be scripted. No auth, no
 * latency, not counted in `requestCount`.
 *
 *   POST /_sim/fail-next-create {kind, count?}   kind: content_policy (400) | rate_limit (429) | server_error (500) | unavailable (503)
 *   POST /_sim/fail-job         {id, code?}      409 when the job already finished
 *   POST /_sim/latency          {ms}
 *   POST /_sim/forget           {id}
 *   GET  /_sim/stats            {requestCount, jobs, byStatus, characters, latencyMs, pendingCreateFailures}
 */
import type { Hono } from 'hono';
import { readFields } from './body.js';
import { CREATE_FAILURE_KINDS, type CreateFailureKind, SimError, invalidRequest, videoNotFound } from './errors.js';
import type { Simulator } from './state.js';

function nonNegativeInt(v: unknown, name: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalidRequest(`'${name}' must be a non-negative integer.`, name);
  return n;
}

function id(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw invalidRequest("'id' is required.", 'id', 'missing_required_parameter');
  return v;
}

export function registerControlRoutes(app: Hono, sim: Simulator): void {
  app.post('/_sim/fail-next-create', async (c) => {
    const body = await readFields(c.req.raw);
    const kind = body.kind as CreateFailureKind;
    if (!CREATE_FAILURE_KINDS.includes(kind)) {
      throw invalidRequest(`'kind' must be one of: ${CREATE_FAILURE_KINDS.join(', ')}.`, 'kind');
    }
    const count = nonNegativeInt(body.count, 'count', 1);
    sim.failNextCreate(kind, count);
    return c.json({ ok: true, pendingCreateFailures: sim.pendingCreateFailures });
  });

  app.post('/_sim/fail-job', async (c) => {
    const body = await readFields(c.req.raw);
    const videoId = id(body.id);
    const code = typeof body.code === 'string' && body.code !== '' ? body.code : undefined;
    const job = sim.get(videoId);
    if (!job) throw videoNotFound(videoId);
    if (!sim.failJob(videoId, code)) {
      throw new SimError(409, 'invalid_request_error', `Video '${videoId}' already finished.`, 'id', 'already_finished');
    }
    return c.json({ ok: true, video: sim.view(job) });
  });

  app.post('/_sim/latency', async (c) => {
    const body = await readFields(c.req.raw);
    const ms = nonNegativeInt(body.ms, 'ms');
    sim.setLatencyMs(ms);
    return c.json({ ok: true, latencyMs: ms });
  });

  app.post('/_sim/forget', async (c) => {
    const body = await readFields(c.req.raw);
    const videoId = id(body.id);
    if (!sim.forget(videoId)) throw videoNotFound(videoId);
    return c.json({ ok: true });
  });

  app.get('/_sim/stats', (c) =>
    c.json({
      requestCount: sim.requestCount,
      jobs: sim.jobs.size,
      byStatus: sim.countByStatus(),
      characters: sim.characters.size,
      latencyMs: sim.latencyMs,
      pendingCreateFailures: sim.pendingCreateFailures,
    }),
  );
}
