import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, errorBody, type ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logging/logger.js';
import { lingerAfterParserError, lingeringTick, type LingerBounds } from './linger.js';

/**
 * Requests refused before they reach the app (by Node's HTTP parser, its timeouts, or for a target
 * or Host header the router cannot use) are answered in OpenAI's error envelope with an
 * x-request-id, like every other error, instead of Node's bare status line.
 */
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' };

/** Node's parser / timeout error code → the contract's error. */
export function parserError(code: string | undefined): ApiError {
  const [errorCode, message]: [ErrorCode, string] =
    code === 'HPE_HEADER_OVERFLOW'
      ? ['headers_too_large', 'The request headers are too large.']
      : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? ['request_too_large', 'The chunk extensions of the request body are too large.']
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? ['request_timeout', 'The request was not received in time.']
          : ['invalid_request', 'Malformed HTTP request.'];
  return new ApiError(errorCode, message);
}

function rawResponse(err: ApiError, requestId: string): string {
  const body = errorBody(err);
  return (
    `HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? 'Bad Request'}\r\n` +
    `connection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n\r\n${body}`
  );
}

/**
 * The server's 'clientError' listener. Never logs the error object: its rawPacket holds the
 * client's headers. A malformed request is answered, then the connection lingers (the client may
 * still be sending a body; see linger.ts) — except after a timeout: a client that was too slow
 * gets no more time.
 */
export function onClientError(logger: Logger, linger: LingerBounds) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    // Node's parser reports its error again for every chunk that arrives after it.
    if (lingeringTick(socket)) return;
    if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const requestId = newId('req');
    const apiErr = parserError(err.code);
    logger.info({ request_id: requestId, status: apiErr.status, error_code: apiErr.code, parser_code: String(err.code ?? '').slice(0, 40) }, 'malformed request refused');
    socket.write(rawResponse(apiErr, requestId));
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.destroySoon();
    else lingerAfterParserError(socket, linger);
  };
}

/**
 * A request target or Host header that cannot make a URL (the router would answer a bare 400):
 * origin-form targets need a usable Host (HTTP/1.1 requires one), absolute-form must parse, and
 * no backslash may appear in the path.
 */
export function unusableTarget(req: IncomingMessage): boolean {
  const target = req.url ?? '';
  const q = target.indexOf('?');
  if (target.slice(0, q === -1 ? undefined : q).includes('\\')) return true;
  if (target.startsWith('http://') || target.startsWith('https://')) return !URL.canParse(target);
  if (!target.startsWith('/')) return true;
  const host = req.headers.host;
  if (host === undefined || host === '') return req.httpVersionMajor === 1 && req.httpVersionMinor >= 1;
  if (usableHosts.has(host)) return false;
  if (!URL.canParse(`http://${host}/`)) return true;
  const hostname = new URL(`http://${host}/`).hostname;
  const unusable = hostname.length !== host.length && hostname !== host.replace(/:\d+$/, '');
  if (!unusable) {
    // Nearly every request names one of a few hosts: parsing it into a URL each time costs a few µs.
    if (usableHosts.size >= 64) usableHosts.clear();
    usableHosts.add(host);
  }
  return unusable;
}

/** Host header values already found usable (bounded). */
const usableHosts = new Set<string>();

/** Answers an unusable target with the envelope; returns false when the request may go on to the app. */
export function refuseUnusableTarget(req: IncomingMessage, res: ServerResponse, logger: Logger): boolean {
  if (!unusableTarget(req)) return false;
  const requestId = newId('req');
  const err = new ApiError('invalid_request', 'Malformed request target or Host header.');
  logger.info({ request_id: requestId, status: 400, error_code: err.code }, 'malformed request refused');
  const body = errorBody(err);
  res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': requestId, connection: 'close' });
  res.end(body);
  return true;
}
