import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { finished, type Readable, type Writable } from 'node:stream';
import { ApiError } from '../errors.js';
import { relayedGarbage } from './relayed-garbage.js';

/**
 * The upstream client: one undici Pool to the provider, separate connect / headers / body-idle
 * timeouts (never one total timeout on a stream), and failures classified into typed errors.
 */
export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL's /v1, e.g. `/videos/video_123`, with query string if any. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer | Readable | null;
  signal?: AbortSignal;
  /**
   * fetchSmall only: the client's response. If it closes before it has finished (the client hung
   * up), the upstream request is aborted, as with `signal` but without an AbortController per request.
   */
  client?: Writable;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** ms from sending to response headers */
  headersMs: number;
}

/** Status and headers of an upstream response, before its body. */
export type UpstreamHead = Omit<UpstreamResponse, 'body'>;

/** A small upstream response, read whole. */
export type SmallResponse = UpstreamHead & { bytes: Buffer };

/**
 * A relayed body that broke off after its response head went out: `side` says who broke it (the
 * client hung up, or the upstream failed or stalled), `bytes` how much had been relayed.
 */
export class RelayInterrupted extends Error {
  constructor(
    readonly side: 'client' | 'upstream',
    readonly bytes: number,
    readonly cause?: unknown,
  ) {
    super(`relay interrupted by the ${side}`);
  }
}

export type UpstreamFailureKind = 'unreachable' | 'timeout' | 'reset' | 'bad_response' | 'aborted';

/**
 * An upstream call that did not produce a response. `maySent` says whether the request bytes may
 * have reached the upstream: a create with maySent=true has an unknown outcome and is never retried.
 */
export class UpstreamFailure extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    readonly maySent: boolean,
    readonly cause?: unknown,
  ) {
    super(`upstream ${kind}`);
  }

  toApiError(): ApiError {
    switch (this.kind) {
      case 'unreachable':
        return new ApiError('upstream_unavailable', 'The upstream provider could not be reached. Try again later.', null, { 'retry-after': '5' });
      case 'timeout':
        return new ApiError('upstream_timeout', 'The upstream provider did not answer in time.');
      default:
        return new ApiError('upstream_error', 'The upstream provider returned an invalid or interrupted response.');
    }
  }
}

const CONNECT_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  const code = (err as { code?: string })?.code ?? '';
  if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') return new UpstreamFailure('unreachable', false, err);
  if (CONNECT_ERROR_CODES.has(code)) return new UpstreamFailure('unreachable', false, err);
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return new UpstreamFailure('timeout', true, err);
  if (err instanceof undiciErrors.RequestAbortedError || (err as Error)?.name === 'AbortError') return new UpstreamFailure('aborted', true, err);
  if (err instanceof undiciErrors.HTTPParserError || code === 'HPE_INVALID_CONSTANT') return new UpstreamFailure('bad_response', true, err);
  return new UpstreamFailure('reset', true, err);
}

export interface UpstreamOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  /** Connections for small exchanges (polls, creates, deletes, the reconciler). */
  connections?: number;
  /** Connections for content downloads, a separate budget: stalled downloads never starve polls. */
  downloadConnections?: number;
}

/**
 * undici's controller keeps the response head's raw bytes (`controller.rawHeaders`) for as long
 * as the request lasts. Those bytes are slices of the socket read the head arrived in (up to
 * 64 KiB, usually shared with the first body bytes), so a download that takes minutes would pin
 * that whole read buffer: 64 KiB per slow reader, 12.5 MB for 200 of them. The handler gets the
 * head already parsed into strings, so nothing here needs the bytes.
 */
function releaseRawHeaders(controller: Dispatcher.DispatchController): void {
  controller.rawHeaders = null;
}

export class Upstream {
  /** Small exchanges: status polls, creates, deletes, characters, the reconciler. */
  private readonly pool: Pool;
  /** Content downloads (relay, request), which may be held open for minutes by slow clients. */
  private readonly downloads: Pool;
  private readonly basePath: string;
  readonly apiKey: string | undefined;

  constructor(opts: UpstreamOptions) {
    const url = new URL(opts.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    const poolOptions = (connections: number): Pool.Options => ({
      connections,
      connect: { timeout: opts.timeouts.connectMs },
      headersTimeout: opts.timeouts.headersMs,
      bodyTimeout: opts.timeouts.bodyMs,
      keepAliveTimeout: 10_000,
    });
    this.pool = new Pool(url.origin, poolOptions(opts.connections ?? 128));
    this.downloads = new Pool(url.origin, poolOptions(opts.downloadConnections ?? 256));
  }

  /** A streamed response (content downloads where no Node response exists to relay into). */
  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    const started = performance.now();
    try {
      const res = await this.downloads.request({
        method: req.method,
        path: this.basePath + req.path,
        headers: req.headers,
        body: req.body ?? null,
        signal: req.signal,
      });
      if (res.statusCode > 599) {
        // Not an HTTP status a response can carry on to the client: a bad response. dump() discards
        // the body and swallows its errors (a bare destroy() would emit an unhandled 'error').
        res.body.dump().catch(() => {});
        throw new UpstreamFailure('bad_response', true);
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, headersMs: performance.now() - started };
    } catch (err) {
      throw classifyUpstreamError(err);
    }
  }

  /**
   * Relays an upstream response straight into a Node writable (the client's response) with no
   * stream in between: each chunk undici reads is written to `sink`, and reading from the upstream
   * pauses while `sink` is full. A slow client thus holds about one chunk per side, whatever the
   * size of the file. `onHead` runs before the first byte (to write the response head).
   *
   * Resolves with the bytes relayed once `sink` has finished. Rejects with an UpstreamFailure when
   * no response came (nothing was written to `sink`), or with RelayInterrupted when the body broke
   * off midway (then `sink` is destroyed; a client that hangs up aborts the upstream request).
   */
  relay(req: UpstreamRequest, sink: Writable, onHead: (head: UpstreamHead) => void): Promise<number> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let bytes = 0;
      let headSent = false;
      let clientGone = false;
      let upstream: Dispatcher.DispatchController | null = null;
      const onSinkClose = () => {
        if (sink.writableFinished) return;
        clientGone = true;
        upstream?.abort(new RelayInterrupted('client', bytes));
      };
      sink.once('close', onSinkClose);
      const fail = (err: unknown) => {
        sink.off('close', onSinkClose);
        if (!headSent) return reject(clientGone ? new UpstreamFailure('aborted', true, err) : classifyUpstreamError(err));
        sink.destroy();
        reject(new RelayInterrupted(clientGone ? 'client' : 'upstream', bytes, err));
      };
      const opts: Dispatcher.DispatchOptions = { method: req.method, path: this.basePath + req.path, headers: req.headers, body: req.body ?? null };
      this.downloads.dispatch(opts, {
        onRequestStart(controller) {
          upstream = controller;
          if (clientGone) controller.abort(new RelayInterrupted('client', 0));
        },
        onResponseStart(controller, statusCode, headers) {
          releaseRawHeaders(controller);
          if (statusCode < 200) return; // informational (1xx): the real response follows
          if (statusCode > 599) return controller.abort(new UpstreamFailure('bad_response', true));
          try {
            onHead({ status: statusCode, headers: headers as UpstreamHead['headers'], headersMs: performance.now() - started });
          } catch (err) {
            return controller.abort(err as Error);
          }
          headSent = true;
          sink.on('drain', () => controller.resume());
        },
        onResponseData(controller, chunk) {
          bytes += chunk.length;
          relayedGarbage.note(chunk.length);
          if (!sink.write(chunk)) controller.pause();
        },
        onResponseEnd() {
          sink.off('close', onSinkClose);
          sink.end();
          finished(sink, (err) => (err ? reject(new RelayInterrupted('client', bytes, err)) : resolve(bytes)));
        },
        onResponseError(_controller, err) {
          fail(err);
        },
      });
    });
  }

  /**
   * A request whose answer is small and read whole (status polls, deletes, characters, creates):
   * status, headers and the body as one Buffer. It dispatches with a handler that gathers the
   * chunks itself, without the Readable body stream `request` builds for every response: this
   * runs for every status poll. `onHead` runs when the response head arrives, before the body.
   *
   * Rejects with an UpstreamFailure, classified like `request`'s: no response, a body that breaks
   * off, times out or is over `limitBytes` (bad_response), or `signal` firing or `client` closing
   * early (aborted).
   */
  fetchSmall(req: UpstreamRequest, onHead?: (head: UpstreamHead) => void, limitBytes = 8 * 1024 * 1024): Promise<SmallResponse> {
    const started = performance.now();
    const { signal, client } = req;
    if (signal?.aborted || client?.destroyed) return Promise.reject(new UpstreamFailure('aborted', false));
    return new Promise((resolve, reject) => {
      let head: UpstreamHead | null = null;
      let upstream: Dispatcher.DispatchController | null = null;
      let aborted = false;
      const chunks: Buffer[] = [];
      let total = 0;
      const onAbort = () => {
        aborted = true;
        upstream?.abort(new undiciErrors.RequestAbortedError());
      };
      const onClientClose = () => {
        if (!client!.writableFinished) onAbort();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      client?.once('close', onClientClose);
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        client?.off('close', onClientClose);
      };
      const opts: Dispatcher.DispatchOptions = { method: req.method, path: this.basePath + req.path, headers: req.headers, body: req.body ?? null };
      this.pool.dispatch(opts, {
        onRequestStart(controller) {
          upstream = controller;
          if (aborted) controller.abort(new undiciErrors.RequestAbortedError());
        },
        onResponseStart(controller, statusCode, headers) {
          if (statusCode < 200) return; // informational (1xx): the real response follows
          if (statusCode > 599) return controller.abort(new UpstreamFailure('bad_response', true));
          head = { status: statusCode, headers: headers as UpstreamHead['headers'], headersMs: performance.now() - started };
          onHead?.(head);
        },
        onResponseData(controller, chunk) {
          total += chunk.length;
          if (total > limitBytes) return controller.abort(new UpstreamFailure('bad_response', true));
          chunks.push(chunk);
        },
        onResponseEnd() {
          done();
          const { status, headers, headersMs } = head!;
          resolve({ status, headers, headersMs, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total) });
        },
        onResponseError(_controller, err) {
          done();
          reject(classifyUpstreamError(err));
        },
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.downloads.close()]);
  }

  async destroy(): Promise<void> {
    await Promise.all([this.pool.destroy(), this.downloads.destroy()]);
  }
}
