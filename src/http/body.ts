import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import type { AppEnv, RequestState } from './context.js';
import { serverBusy } from './upload-budget.js';
import { JSON_BODY_LIMIT_BYTES } from '../config.js';

export const JSON_LIMIT_BYTES = JSON_BODY_LIMIT_BYTES;

/**
 * Reads the request body whole, refusing it with 413 as soon as it is over `limit` (by its
 * content-length when declared, else while counting the chunks), and with 503 `server_busy` when
 * the process's upload budget cannot hold it (reserved from the content-length before reading,
 * or chunk by chunk for a chunked body).
 */
export async function readBody(c: Context<AppEnv>, limit: number): Promise<Buffer> {
  const state = c.get('state');
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const declaredBytes = declared === undefined ? null : Number(declared) || 0;
  if (declaredBytes !== null) reserve(state, declaredBytes);
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  // With a declared length the bytes go straight into one buffer of that size: the body then
  // takes its size in memory once, not twice (the chunks, then their concatenation).
  const whole = declaredBytes !== null ? Buffer.allocUnsafe(declaredBytes) : null;
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // The client hung up or was cut off by a timeout mid-body: its fault, not a server error.
      throw new ApiError('invalid_request', 'The request body could not be read completely.');
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    if (declaredBytes === null) {
      try {
        reserve(state, value.byteLength);
      } catch (err) {
        await reader.cancel().catch(() => {});
        throw err;
      }
    }
    if (whole) {
      // Node's parser never delivers more than the content-length; other runtimes might.
      if (total > whole.length) {
        await reader.cancel().catch(() => {});
        throw new ApiError('invalid_request', 'The request body is longer than its content-length.');
      }
      whole.set(value, total - value.byteLength);
    } else {
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  }
  state.bytesIn = total;
  return whole ? whole.subarray(0, total) : Buffer.concat(chunks, total);
}

function reserve(state: RequestState, bytes: number): void {
  if (!state.uploadBudget.tryReserve(bytes)) throw serverBusy();
  state.uploadReserved += bytes;
}

function tooLarge(limit: number): ApiError {
  return new ApiError('request_too_large', `Request body is larger than the limit of ${limit} bytes.`);
}

/** A Buffer as a fetch body (Node's Buffer is a Uint8Array; only the type declarations disagree). */
export function asBodyInit(bytes: Buffer | string): BodyInit {
  return bytes as unknown as BodyInit;
}
