import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import type { UpstreamResponse } from '../relay/upstream.js';
import { downstreamResponseHeaders } from '../relay/headers.js';
import { finishRequest, serverTiming } from '../http/request-context.js';

/**
 * Streams an upstream body (video content) to the client without buffering it: piped straight
 * into the socket with backpressure when running on Node's HTTP server, as a web stream otherwise.
 * A client that hangs up destroys the upstream body, which frees the upstream socket.
 */
export async function streamToClient(c: Context<AppEnv>, deps: Deps, upstreamRes: UpstreamResponse): Promise<Response> {
  const state = c.get('state');
  const headers = downstreamResponseHeaders(upstreamRes.headers);
  const length = upstreamRes.headers['content-length'];
  if (typeof length === 'string' && /^\d+$/.test(length)) headers['content-length'] = length;
  headers['x-request-id'] = state.requestId;
  if (state.upstreamRequestId) headers['x-upstream-request-id'] = state.upstreamRequestId;
  if (!headers['cache-control']) headers['cache-control'] = 'private, no-store';
  state.respondedAt = performance.now();
  headers['server-timing'] = serverTiming(state);

  const outgoing = c.env?.outgoing;
  if (!outgoing) {
    return new Response(Readable.toWeb(upstreamRes.body) as ReadableStream, { status: upstreamRes.status, headers });
  }

  state.streamed = true;
  let sent = 0;
  outgoing.writeHead(upstreamRes.status, headers);
  const method = c.req.method;
  const piping = pipeline(upstreamRes.body, outgoing);
  // Counting alongside the pipe (attached after it, so no chunk flows before the pipe is in place).
  upstreamRes.body.on('data', (chunk: Buffer) => {
    sent += chunk.length;
  });
  piping
    .catch((err: { code?: unknown }) => {
      // Client hung up or the upstream broke midway: pipeline has destroyed both sides. The first
      // error says which: an undici error (other than the abort that follows a hang-up) is the upstream's.
      const code = typeof err?.code === 'string' ? err.code : '';
      if (!state.errorCode) state.errorCode = code.startsWith('UND_ERR') && code !== 'UND_ERR_ABORTED' ? 'upstream_stream_error' : 'client_closed';
    })
    .finally(() => finishRequest(deps, state, method, upstreamRes.status, sent));
  return RESPONSE_ALREADY_SENT;
}
