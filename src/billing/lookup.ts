import type { JobRow } from '../db/billing-store.js';
import { UpstreamFailure, type Upstream } from '../relay/upstream.js';
import { parseVideoObject, type Observation } from './settlement.js';
import { upstreamRequestId as upstreamRequestIdOf } from '../relay/headers.js';

export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.min(Math.round(Number(v) * 1000), 3600_000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.min(at - now, 3600_000));
}

/** What one upstream look-up of a job found, plus the upstream's request id for the log. */
export interface LookUp {
  observation: Observation;
  upstreamRequestId: string | null;
  /** The upstream did not answer at all (no response): the caller may want to say so. */
  failure: UpstreamFailure | null;
}

/**
 * Looks a job up at the upstream (GET /videos/{id}) with reelay's own credential and turns the
 * answer into an Observation for Settlement.observe. The reconciler's polls and the routes that
 * must settle a job before acting on it ("nothing leaves unbilled") share this.
 */
export async function lookUpJob(upstream: Upstream, job: Pick<JobRow, 'videoId'>, now: number, signal?: AbortSignal): Promise<LookUp> {
  const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
  if (upstream.apiKey) headers['authorization'] = `Bearer ${upstream.apiKey}`;
  try {
    const res = await upstream.fetchSmall({ method: 'GET', path: `/videos/${encodeURIComponent(job.videoId!)}`, headers, signal });
    const upstreamRequestId = upstreamRequestIdOf(res.headers);
    if (res.status === 200) {
      const raw = res.bytes.toString('utf8');
      const object = parseVideoObject(raw);
      if (object && object.id === job.videoId) return { observation: { type: 'object', object, raw }, upstreamRequestId, failure: null };
      return { observation: { type: 'transient', retryAfterMs: null }, upstreamRequestId, failure: null };
    }
    if (res.status === 404) return { observation: { type: 'not_found' }, upstreamRequestId, failure: null };
    return { observation: { type: 'transient', retryAfterMs: parseRetryAfter(res.headers['retry-after'], now) }, upstreamRequestId, failure: null };
  } catch (err) {
    if (!(err instanceof UpstreamFailure)) throw err;
    return { observation: { type: 'transient', retryAfterMs: null }, upstreamRequestId: null, failure: err };
  }
}
