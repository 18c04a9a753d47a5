import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { AppEnv, RequestState } from '../http/context.js';
import type { Deps } from '../deps.js';
import { RelayInterrupted, type Upstream, type UpstreamHead, type UpstreamRequest } from '../relay/upstream.js';
import { downstreamResponseHeaders, upstreamRequestId } from '../relay/headers.js';
import { finishRequest, serverTiming } from '../http/request-context.js';
import type { ApiError } from '../errors.js';

/** The client's response head for an upstream content response. Authenticated content is never public. */
function contentHeaders(state: RequestState, head: UpstreamHead): Record<string, string> {
  const headers = downstreamResponseHeaders(head.headers);
  const length = head.headers['content-length'];
  if (typeof length === 'string' && /^\d+$/.test(length)) headers['content-length'] = length;
  headers['x-request-id'] = state.requestId;
  if (state.upstreamRequestId) headers['x-upstream-request-id'] = state.upstreamRequestId;
  if (!headers['cache-control']) headers['cache-control'] = 'private, no-store';
  state.respondedAt = performance.now();
  headers['server-timing'] = serverTiming(state);
  return headers;
}

const toApiError = (err: unknown) => (err as { toApiError?: () => ApiError }).toApiError?.() ?? err;

/**
 * Streams video content from the upstream to the client without buffering it. On Node's HTTP
 * server the upstream body is relayed straight into the client's socket with backpressure (no
 * stream in between, see Upstream.relay); a client that hangs up aborts the upstream request. The
 * request-log row is written when the transfer ends. Elsewhere (app.request() in tests) the body
 * is handed over as a web stream.
 */
export async function sendContent(c: Context<AppEnv>, upstream: Upstream, deps: Deps, req: UpstreamRequest, done: () => void = () => {}): Promise<Response> {
  const state = c.get('state');
  const started = performance.now();
  const outgoing = c.env?.outgoing;
  if (!outgoing) {
    let res;
    try {
      res = await upstream.request({ ...req, signal: c.req.raw.signal });
    } catch (err) {
      done();
      throw toApiError(err);
    } finally {
      state.upstreamMs = performance.now() - started;
    }
    state.upstreamRequestId = upstreamRequestId(res.headers);
    // The download lasts until the body stream ends or is cancelled, not until this returns.
    res.body.once('close', done);
    return new Response(Readable.toWeb(res.body) as ReadableStream, { status: res.status, headers: contentHeaders(state, res) });
  }

  const method = c.req.method;
  let status = 0;
  try {
    const bytes = await upstream.relay(req, outgoing, (head) => {
      status = head.status;
      state.upstreamMs = head.headersMs;
      state.upstreamRequestId = upstreamRequestId(head.headers);
      const headers = contentHeaders(state, head);
      state.streamed = true;
      outgoing.writeHead(head.status, headers);
    });
    finishRequest(deps, state, method, status, bytes);
  } catch (err) {
    if (!(err instanceof RelayInterrupted)) {
      // No response came: nothing was sent yet, the client gets the error envelope.
      state.upstreamMs = performance.now() - started;
      throw toApiError(err);
    }
    if (!state.errorCode) state.errorCode = err.side === 'client' ? 'client_closed' : 'upstream_stream_error';
    finishRequest(deps, state, method, status, err.bytes);
  } finally {
    done();
  }
  return RESPONSE_ALREADY_SENT;
}
