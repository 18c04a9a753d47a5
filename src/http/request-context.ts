import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, RequestState } from './context.js';
import type { Deps } from '../deps.js';
import { isAcceptableRequestId, newId } from '../ids.js';
import { routePath } from 'hono/route';
import { asBodyInit } from './body.js';
import { requestHeader } from './client-headers.js';

/**
 * First middleware: gives the request its id (reusing a well-formed incoming x-request-id), puts
 * x-request-id on every response, and writes the request-log row when the response is done.
 */
export function requestContext(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = requestHeader(c, 'x-request-id');
    const clientSupplied = incoming ?? requestHeader(c, 'x-client-request-id') ?? null;
    const state: RequestState = {
      requestId: isAcceptableRequestId(incoming) ? incoming : newId('req'),
      clientRequestId: clientSupplied !== null && clientSupplied.length <= 512 ? clientSupplied : null,
      startedAt: performance.now(),
      receivedAt: deps.now(),
      route: c.req.path,
      // The last matched route is the handler's pattern (middleware-only matches give `/v1/*`, `*`).
      routeLabel: routePath(c, -1) || '*',
      key: null,
      adminAuthenticated: false,
      videoId: null,
      upstreamRequestId: null,
      upstreamId: null,
      upstreamMs: null,
      respondedAt: null,
      errorCode: null,
      bytesIn: Number(requestHeader(c, 'content-length') ?? 0) || 0,
      uploadBudget: deps.uploadBudget,
      uploadReserved: 0,
      bytesOut: null,
      headersDone: false,
      streamed: false,
    };
    c.set('state', state);
    try {
      await next();
    } finally {
      // The body buffer is no longer needed once the handler has produced its response.
      if (state.uploadReserved > 0) {
        state.uploadBudget.release(state.uploadReserved);
        state.uploadReserved = 0;
      }
    }
    if (state.streamed && state.respondedAt !== null) return; // the route wrote the response itself and finishes the row
    if (state.headersDone) {
      // Built by `respond`: touching c.res.headers here would make the Node adapter give up its
      // fast path and build a whole fetch Response and Headers for every poll.
      finishRequest(deps, state, c.req.method, c.res.status, state.bytesOut ?? 0);
      return;
    }
    state.respondedAt = performance.now();
    c.res.headers.set('server-timing', serverTiming(state));
    if (state.streamed) return; // the streaming route finishes the row itself
    c.res.headers.set('x-request-id', state.requestId);
    if (state.upstreamRequestId) c.res.headers.set('x-upstream-request-id', state.upstreamRequestId);
    const length = Number(c.res.headers.get('content-length') ?? 0) || 0;
    finishRequest(deps, state, c.req.method, c.res.status, length);
  };
}

/**
 * A complete response (one write, an explicit content-length) with reelay's own headers
 * (x-request-id, x-upstream-request-id, server-timing) set at once. Routes answer with this.
 * `headers` must be the response's own, fresh object: it is completed in place, because copying
 * it with a spread costs several µs on every status poll (V8 clones such header objects slowly).
 */
export function respond(c: Context<AppEnv>, status: number, headers: Record<string, string>, bytes: Buffer | string): Response {
  const state = c.get('state');
  const length = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  state.respondedAt = performance.now();
  state.bytesOut = length;
  state.headersDone = true;
  const out = headers;
  out['content-type'] ??= 'application/json';
  out['content-length'] = String(length);
  out['x-request-id'] = state.requestId;
  if (state.upstreamRequestId) out['x-upstream-request-id'] = state.upstreamRequestId;
  out['server-timing'] = serverTiming(state);
  return new Response(asBodyInit(bytes), { status, headers: out });
}

/** `respond` with a JSON value. */
export function respondJson(c: Context<AppEnv>, value: unknown, status = 200): Response {
  return respond(c, status, {}, JSON.stringify(value));
}

/**
 * `server-timing: total;dur=…, upstream;dur=…, reelay;dur=…` (ms): time until the response
 * headers were ready, the part of it spent waiting for the upstream, and reelay's own share.
 */
export function serverTiming(state: RequestState): string {
  const total = (state.respondedAt ?? performance.now()) - state.startedAt;
  if (state.upstreamMs === null) return `total;dur=${total.toFixed(3)}, reelay;dur=${total.toFixed(3)}`;
  const upstream = Math.min(state.upstreamMs, total);
  return `total;dur=${total.toFixed(3)}, upstream;dur=${upstream.toFixed(3)}, reelay;dur=${(total - upstream).toFixed(3)}`;
}

/** On the row of a request that was not authenticated, ids are cut to this many characters (§6). */
export const UNAUTHENTICATED_ID_CHARS = 128;

const bounded = (id: string | null): string | null => (id !== null && id.length > UNAUTHENTICATED_ID_CHARS ? id.slice(0, UNAUTHENTICATED_ID_CHARS) : id);

/**
 * Writes the request-log row (for /v1 and /admin), one structured access-log line, and the request's
 * metrics. A request that was not authenticated is recorded with its matched route pattern
 * (`/v1/videos/:id`, `/v1/*`) instead of its path, and its ids cut to 128 characters, so anonymous
 * traffic with long paths or ids cannot fill the disk.
 */
export function finishRequest(deps: Deps, state: RequestState, method: string, status: number, bytesOut: number): void {
  const finishedAt = performance.now();
  const respondedMs = (state.respondedAt ?? finishedAt) - state.startedAt;
  deps.metrics.observeRequest({
    method,
    route: state.routeLabel,
    status,
    totalMs: finishedAt - state.startedAt,
    upstreamMs: state.upstreamMs,
    overheadMs: respondedMs - Math.min(state.upstreamMs ?? 0, respondedMs),
    upstreamId: state.upstreamId,
  });
  const durationMs = Math.round(finishedAt - state.startedAt);
  const logged = state.route.startsWith('/v1') || state.route.startsWith('/admin');
  const authenticated = state.key !== null || state.adminAuthenticated;
  const route = authenticated ? state.route : state.routeLabel;
  if (logged) {
    deps.requestLog.push({
      requestId: state.requestId,
      clientRequestId: authenticated ? state.clientRequestId : bounded(state.clientRequestId),
      upstreamRequestId: authenticated ? state.upstreamRequestId : bounded(state.upstreamRequestId),
      keyId: state.key?.id ?? null,
      method,
      route,
      videoId: authenticated ? state.videoId : bounded(state.videoId),
      upstreamId: state.upstreamId,
      status,
      errorCode: state.errorCode,
      durationMs,
      upstreamDurationMs: state.upstreamMs === null ? null : Math.round(state.upstreamMs),
      bytesIn: state.bytesIn,
      bytesOut,
      createdAt: state.receivedAt,
    });
  }
  if (deps.logger.isLevelEnabled('info')) {
    deps.logger.info(
      {
        request_id: state.requestId,
        upstream_request_id: state.upstreamRequestId,
        key_id: state.key?.id ?? null,
        method,
        route,
        video_id: authenticated ? state.videoId : bounded(state.videoId),
        upstream_id: state.upstreamId,
        status,
        error_code: state.errorCode,
        duration_ms: durationMs,
        upstream_ms: state.upstreamMs === null ? null : Math.round(state.upstreamMs),
      },
      'request',
    );
  }
}
