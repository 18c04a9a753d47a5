import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { ApiError } from '../errors.js';

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
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** ms from sending to response headers */
  headersMs: number;
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
        return new ApiError('upstream_unavailable', 'The upstream provider could not be reached. Try again later.');
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
  connections?: number;
}

export class Upstream {
  private readonly pool: Pool;
  private readonly basePath: string;
  readonly apiKey: string | undefined;

  constructor(opts: UpstreamOptions) {
    const url = new URL(opts.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 256,
      connect: { timeout: opts.timeouts.connectMs },
      headersTimeout: opts.timeouts.headersMs,
      bodyTimeout: opts.timeouts.bodyMs,
      keepAliveTimeout: 10_000,
    });
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    const started = performance.now();
    try {
      const res = await this.pool.request({
        method: req.method,
        path: this.basePath + req.path,
        headers: req.headers,
        body: req.body ?? null,
        signal: req.signal,
      });
      if (res.statusCode > 599) {
        // Not an HTTP status a response can carry on to the client: a bad response.
        res.body.destroy();
        throw new UpstreamFailure('bad_response', true);
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, headersMs: performance.now() - started };
    } catch (err) {
      throw classifyUpstreamError(err);
    }
  }

  /** Reads a (small) response body whole. Body failures are classified like request failures. */
  static async readBody(res: UpstreamResponse, limitBytes = 8 * 1024 * 1024): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body) {
        total += chunk.length;
        if (total > limitBytes) {
          res.body.destroy();
          throw new UpstreamFailure('bad_response', true);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      throw classifyUpstreamError(err);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
