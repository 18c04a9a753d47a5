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

/**
 * A socket in a lingering close. Bytes are counted from the 'data' events of what is being
 * drained (socket.bytesRead does not move while Node's parser reads the socket natively).
 */
class Linger {
  private bytes = 0;
  private countingSocket = false;
  constructor(
    private readonly socket: Socket,
    private readonly maxBytes: number,
  ) {}

  readonly count = (chunk: Buffer): void => {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) this.socket.destroy();
  };

  /** Count the raw socket's data (after a parser error nothing reaches the request any more). */
  countSocket(): void {
    if (this.countingSocket) return;
    this.countingSocket = true;
    this.socket.on('data', this.count);
  }
}

const lingering = new WeakMap<Socket, Linger>();

/**
 * For the server's clientError listener: true when `socket` is lingering. Node's parser reports
 * its error again for each chunk that arrives after one (an error in a body being drained, or the
 * head of a refused request): from then on the socket's own data is what is drained and counted.
 */
export function lingeringTick(socket: Socket): boolean {
  const l = lingering.get(socket);
  if (!l) return false;
  l.countSocket();
  return true;
}

function startLinger(socket: Socket, bounds: LingerBounds): Linger | null {
  if (lingering.has(socket)) return null;
  const l = new Linger(socket, bounds.maxBytes);
  lingering.set(socket, l);
  return l;
}

/**
 * The request announced a body that has not fully arrived. An answer produced without reading the
 * body is usually written before the parser has even seen the rest of a small body in the same
 * packet, so such refusals close their connection too: a reconnect for the client, on a path that
 * only refusals take.
 */
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
  const linger = startLinger(socket, bounds);
  if (!linger) return;
  // Drain and count from now on. Left alone, Node "dumps" an unread body when the response
  // finishes, and a dumped body's bytes are dropped where nothing can count them. As Node's own
  // dump does, whoever was reading the body (a reader the app abandoned) is dropped first.
  req.removeAllListeners('data');
  req.on('data', linger.count);
  req.resume();
  let started = false;
  socket.destroySoon = () => {
    if (started) return;
    started = true;
    // The body may have arrived in full meanwhile: then a normal close resets nothing.
    if (req.complete) return closeWhenFlushed(socket);
    discard(socket, req, bounds.timeoutMs);
  };
}

/** After a parser error (the answer already written by the caller): linger on the raw socket. */
export function lingerAfterParserError(socket: Socket, bounds: LingerBounds): void {
  const linger = startLinger(socket, bounds);
  if (!linger) return;
  linger.countSocket();
  discard(socket, socket, bounds.timeoutMs);
}

/**
 * Closes the write side (the client reads the answer, then end of stream), then lets `source`
 * (the request body, or the raw socket) flow to the counter until it ends or the client closes —
 * then closes normally — or until a bound is reached — then destroys the socket.
 */
function discard(socket: Socket, source: Readable, timeoutMs: number): void {
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const done = () => closeWhenFlushed(socket);
  socket.on('error', () => {}); // a reset from the client ends the linger; nothing to report
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', done);
  source.once('end', done);
  socket.end();
  source.resume();
}

/** Socket.prototype.destroySoon: end the write side, destroy once the written bytes are flushed. */
function closeWhenFlushed(socket: Socket): void {
  Socket.prototype.destroySoon.call(socket);
}
