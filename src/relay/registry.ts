import { Upstream, type UpstreamOptions } from './upstream.js';
import type { UpstreamSpec } from './upstreams-file.js';
import { ApiError } from '../errors.js';

/**
 * One Upstream client per configured upstream, by id (design.md, "Upstreams are a registry"). The
 * credential is chosen here, from the job's recorded upstream id, never by route code: a job's
 * follow-ups go to the upstream that created it, whatever the order of the file.
 */
export interface RegisteredUpstream {
  readonly spec: UpstreamSpec;
  readonly client: Upstream;
}

/** What the reconciler and the look-ups need: the client of an upstream id, if still configured. */
export interface UpstreamClients {
  client(id: string): Upstream | undefined;
}

export class UpstreamRegistry implements UpstreamClients {
  private readonly byId = new Map<string, RegisteredUpstream>();

  constructor(
    readonly specs: readonly UpstreamSpec[],
    opts: Omit<UpstreamOptions, 'baseUrl' | 'apiKey'>,
    /**
     * The upstreams come from UPSTREAMS_FILE. Without it, the one implicit `default` upstream
     * behaves as before: it is never cooled down (there is nowhere else to send a job) and its
     * answers pass through.
     */
    readonly fromFile = specs.length !== 1 || specs[0]!.id !== 'default' || specs[0]!.apiKeyEnv !== null,
  ) {
    for (const spec of specs) this.byId.set(spec.id, { spec, client: new Upstream({ ...opts, baseUrl: spec.baseUrl, apiKey: spec.apiKey }) });
  }

  get(id: string): RegisteredUpstream | undefined {
    return this.byId.get(id);
  }

  client(id: string): Upstream | undefined {
    return this.byId.get(id)?.client;
  }

  /** The upstream a job or character belongs to, or 503 upstream_unavailable when it is no longer configured. */
  forJob(upstreamId: string): RegisteredUpstream {
    const found = this.byId.get(upstreamId);
    if (!found) throw upstreamGone();
    return found;
  }

  all(): RegisteredUpstream[] {
    return [...this.byId.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((u) => u.client.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all(this.all().map((u) => u.client.destroy()));
  }
}

export function upstreamGone(): ApiError {
  return new ApiError('upstream_unavailable', 'The upstream that holds this video is not configured on this gateway any more. Try again later.', null, { 'retry-after': '60' });
}

/** No upstream can take a job now (none serves it, all are cooling down, full or refused it). */
export function noUpstreamAvailable(retryAfterS: number): ApiError {
  return new ApiError('upstream_unavailable', 'No upstream provider can take this job right now. Try again later.', null, {
    'retry-after': String(Math.max(1, Math.min(600, Math.ceil(retryAfterS)))),
  });
}

/** A registry view of a single Upstream client as `default` (tests and tools with one upstream). */
export function singleUpstream(upstream: Upstream): UpstreamClients {
  return { client: (id) => (id === 'default' ? upstream : undefined) };
}
