import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { AppEnv, RequestState } from '../http/context.js';
import type { Deps } from '../deps.js';
import { RelayInterrupted, type Upstream, type UpstreamHead, type UpstreamRequest } from '../relay/upstream.js';
import { downstreamResponseHeaders, upstreamRequestId } from '../relay/headers.js';
import { finishRequest, serverTiming } from '../http/request-context.js';
import { ApiError } from '../errors.js';
import { pipeline } from 'node:stream/promises';
import { relayedGarbage } from '../relay/relayed-garbage.js';
import { parseByteRange } from '../http/byte-range.js';
import type { ArchivedCopy } from '../archive/service.js';

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

/**
 * Serves an archived copy (contract §11): the upstream's content type and length, a single
 * `Range` answered with 206 and `content-range` (416 when unsatisfiable), `x-reelay-archive: hit`,
 * never public caching. On Node's HTTP server the file (or S3 object) is piped into the client's
 * socket with backpressure, a chunk or two in memory whatever the size. Returns undefined, having
 * sent nothing, when the stored object is missing after all: the caller relays the upstream.
 */
export async function sendArchived(c: Context<AppEnv>, deps: Deps, copy: ArchivedCopy, done: () => void): Promise<Response | undefined> {
  const state = c.get('state');
  const size = copy.variant.bytes;
  const range = parseByteRange(c.req.header('range'), size);
  if (range.kind === 'unsatisfiable') {
    done();
    throw new ApiError('range_not_satisfiable', `The requested range is not satisfiable (the content is ${size} bytes).`, 'range', { 'content-range': `bytes */${size}` });
  }
  const partial = range.kind === 'partial' ? range : undefined;
  let body;
  try {
    body = size === 0 ? undefined : await copy.open(partial && { start: partial.start, end: partial.end });
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, video_id: state.videoId }, 'archive: could not read an archived copy; relaying the upstream');
    body = undefined;
  }
  if (!body && size !== 0) return undefined;
  const status = partial ? 206 : 200;
  const length = partial ? partial.end - partial.start + 1 : size;
  const headers: Record<string, string> = {
    'content-type': copy.variant.contentType,
    'content-length': String(length),
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-store',
    'x-reelay-archive': 'hit',
    'x-request-id': state.requestId,
  };
  if (partial) headers['content-range'] = `bytes ${partial.start}-${partial.end}/${size}`;
  state.upstreamRequestId = null;
  state.respondedAt = performance.now();
  headers['server-timing'] = serverTiming(state);

  const outgoing = c.env?.outgoing;
  if (!outgoing) {
    if (!body) {
      done();
      return new Response(null, { status, headers });
    }
    body.once('close', done);
    return new Response(Readable.toWeb(body) as ReadableStream, { status, headers });
  }
  let bytes = 0;
  state.streamed = true;
  outgoing.writeHead(status, headers);
  try {
    if (body) {
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        // Each read is a fresh buffer, garbage once the socket has it: the same valve as relaying.
        relayedGarbage.note(chunk.length);
      });
      await pipeline(body, outgoing);
    } else {
      outgoing.end();
    }
    finishRequest(deps, state, c.req.method, status, bytes);
  } catch {
    if (!state.errorCode) state.errorCode = outgoing.writableFinished ? 'archive_read_error' : 'client_closed';
    finishRequest(deps, state, c.req.method, status, bytes);
  } finally {
    done();
  }
  return RESPONSE_ALREADY_SENT;
}
