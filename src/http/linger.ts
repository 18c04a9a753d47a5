import { ServerResponse, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * Lingering close, as nginx does it. When reelay answers before it has read the request body (a
 * 413 by content-length, a 401, a 429, a parser error), the client is usually still sending. If
 * the server then closes the socket while unread bytes are arriving, the kernel answers them with
 * a reset, and a reset makes the client's kernel discard the answer it has not read yet: the
 * client sees EPIPE/ECONNRESET instead of the error, and the SDKs retry the whole upload. So such
 * an answer goes out with `connection: close`, the write side is closed after it, and the rest of
 * the body is read and thrown away until it ends, the client closes, or a bound is reached (time
 * or bytes), whichever comes first; only then is the socket closed. Nothing is held past the
 * bounds, and nothing happens on the normal path, where the body was read before the answer.
 */
export interface LingerBounds {
  timeoutMs: number;
  maxBytes: number;
}

/** Sockets in a lingering close: further parser errors on them are expected and ignored. */
const lingering = new WeakSet<Socket>();

export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/** The request announced a body that has not fully arrived. */
function bodyStillArriving(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The server's ServerResponse class: an answer written while the request body is still arriving
 * gets `connection: close` and a lingering close. Every answer passes through writeHead (Node's
 * implicit headers call it too), so this covers the routes, the error handler and the bad-target
 * refusal alike; on the normal path it costs one property read (`req.complete`).
 */
export function lingeringResponse(bounds: LingerBounds): typeof ServerResponse {
  class LingeringResponse extends ServerResponse {}
  const writeHead = ServerResponse.prototype.writeHead;
  LingeringResponse.prototype.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent && bodyStillArriving(this.req) && this.socket) {
      this.setHeader('connection', 'close');
      lingerAfterResponse(this.req, this.socket, bounds);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof writeHead;
  return LingeringResponse as typeof ServerResponse;
}

/**
 * Node closes the socket of a `connection: close` response with `socket.destroySoon()` as soon as
 * the response is written (and @hono/node-server does the same after draining an unread body for
 * 500 ms). For this socket only, that call starts the lingering close instead.
 */
function lingerAfterResponse(req: IncomingMessage, socket: Socket, bounds: LingerBounds): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  let started = false;
  socket.destroySoon = () => {
    if (started) return;
    started = true;
    // The body may have arrived in full meanwhile: then a normal close resets nothing.
    if (req.complete) return closeWhenFlushed(socket);
    // As Node's own IncomingMessage._dump: drop whoever was reading the body (a reader the app
    // abandoned), and let the rest flow to our counter only.
    req.removeAllListeners('data');
    discard(socket, req, bounds);
  };
}

/** After a parser error (the answer already written by the caller): linger on the raw socket. */
export function lingerAfterParserError(socket: Socket, bounds: LingerBounds): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  discard(socket, socket, bounds);
}

/**
 * Closes the write side (the client reads the answer, then end of stream), then reads and drops
 * `source` (the request body, or the raw socket) until it ends or the client closes — then closes
 * normally — or until `bounds` are reached — then destroys the socket.
 */
function discard(socket: Socket, source: Readable, bounds: LingerBounds): void {
  let bytes = 0;
  const timer = setTimeout(() => socket.destroy(), bounds.timeoutMs);
  const done = () => closeWhenFlushed(socket);
  socket.on('error', () => {}); // a reset from the client ends the linger; nothing to report
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', done);
  source.once('end', done);
  source.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > bounds.maxBytes) socket.destroy();
  });
  socket.end();
  source.resume();
}

/** Socket.prototype.destroySoon: end the write side, destroy once the written bytes are flushed. */
function closeWhenFlushed(socket: Socket): void {
  Socket.prototype.destroySoon.call(socket);
}
