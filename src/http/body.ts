import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import type { AppEnv } from './context.js';

export const JSON_LIMIT_BYTES = 1024 * 1024;

/**
 * Reads the request body whole, refusing it with 413 as soon as it is over `limit` (by its
 * content-length when declared, else while counting the chunks).
 */
export async function readBody(c: Context<AppEnv>, limit: number): Promise<Buffer> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
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
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  c.get('state').bytesIn = total;
  return Buffer.concat(chunks, total);
}

function tooLarge(limit: number): ApiError {
  return new ApiError('request_too_large', `Request body is larger than the limit of ${limit} bytes.`);
}

/** A Buffer as a fetch body (Node's Buffer is a Uint8Array; only the type declarations disagree). */
export function asBodyInit(bytes: Buffer | string): BodyInit {
  return bytes as unknown as BodyInit;
}
