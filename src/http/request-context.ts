import type { MiddlewareHandler } from 'hono';
import type { AppEnv, RequestState } from './context.js';
import type { Deps } from '../deps.js';
import { isAcceptableRequestId, newId } from '../ids.js';

/**
 * First middleware: gives the request its id (reusing a well-formed incoming x-request-id), puts
 * x-request-id on every response, and writes the request-log row when the response is done.
 */
export function requestContext(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const clientSupplied = incoming ?? c.req.header('x-client-request-id') ?? null;
    const state: RequestState = {
      requestId: isAcceptableRequestId(incoming) ? incoming : newId('req'),
      clientRequestId: clientSupplied !== null && clientSupplied.length <= 512 ? clientSupplied : null,
      startedAt: performance.now(),
      receivedAt: deps.now(),
      route: c.req.path,
      key: null,
      videoId: null,
      upstreamRequestId: null,
      upstreamMs: null,
      errorCode: null,
      bytesIn: Number(c.req.header('content-length') ?? 0) || 0,
      bytesOut: null,
      streamed: false,
    };
    c.set('state', state);
    await next();
    if (state.streamed) return; // the streaming route finishes the row itself
    c.res.headers.set('x-request-id', state.requestId);
    if (state.upstreamRequestId) c.res.headers.set('x-upstream-request-id', state.upstreamRequestId);
    const length = Number(c.res.headers.get('content-length') ?? 0) || 0;
    finishRequest(deps, state, c.req.method, c.res.status, length);
  };
}

/** Writes the request-log row (for /v1 and /admin) and one structured access-log line. */
export function finishRequest(deps: Deps, state: RequestState, method: string, status: number, bytesOut: number): void {
  const durationMs = Math.round(performance.now() - state.startedAt);
  const logged = state.route.startsWith('/v1') || state.route.startsWith('/admin');
  if (logged) {
    deps.requestLog.push({
      requestId: state.requestId,
      clientRequestId: state.clientRequestId,
      upstreamRequestId: state.upstreamRequestId,
      keyId: state.key?.id ?? null,
      method,
      route: state.route,
      videoId: state.videoId,
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
        route: state.route,
        video_id: state.videoId,
        status,
        error_code: state.errorCode,
        duration_ms: durationMs,
        upstream_ms: state.upstreamMs === null ? null : Math.round(state.upstreamMs),
      },
      'request',
    );
  }
}
