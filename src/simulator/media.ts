/**
 * Media for `GET /v1/videos/{id}/content`: the bundled assets, the synthetic byte stream,
 * `Range` parsing and a pull-based (backpressured) response body.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseByteRange } from '../http/byte-range.js';

export type Variant = 'video' | 'thumbnail' | 'spritesheet';
export const VARIANTS: readonly Variant[] = ['video', 'thumbnail', 'spritesheet'];

/** Something that can hand out any slice of its bytes on demand. */
export interface ByteSource {
  size: number;
  contentType: string;
  /** Bytes [offset, offset + length). */
  read(offset: number, length: number): Uint8Array;
}

const ASSET_FILES: Record<Variant, { file: string; contentType: string }> = {
  video: { file: 'sample.mp4', contentType: 'video/mp4' },
  thumbnail: { file: 'thumbnail.webp', contentType: 'image/webp' },
  spritesheet: { file: 'spritesheet.jpg', contentType: 'image/jpeg' },
};

/**
 * Where an asset lives: next to this module (`src/simulator/assets/` under tsx), falling back
 * to the source tree when running from a build output that did not copy the assets.
 */
export function assetUrl(file: string): URL {
  const local = new URL(`./assets/${file}`, import.meta.url);
  if (existsSync(local)) return local;
  const fromSource = new URL(`../../src/simulator/assets/${file}`, import.meta.url);
  return existsSync(fromSource) ? fromSource : local;
}

const assetCache = new Map<Variant, Buffer>();

/** The bundled asset's bytes (each asset is well under 100 KB, read once and kept). */
export function assetBytes(variant: Variant): Buffer {
  let bytes = assetCache.get(variant);
  if (!bytes) {
    bytes = readFileSync(assetUrl(ASSET_FILES[variant].file));
    assetCache.set(variant, bytes);
  }
  return bytes;
}

export function assetSource(variant: Variant): ByteSource {
  const bytes = assetBytes(variant);
  return {
    size: bytes.length,
    contentType: ASSET_FILES[variant].contentType,
    read: (offset, length) => bytes.subarray(offset, offset + length),
  };
}

// ---- synthetic content -----------------------------------------------------------------------

const BLOCK = 65536;

/** 64 KiB of xorshift32 noise with a fixed seed: the base block of the synthetic stream. */
const PATTERN: Uint8Array = (() => {
  const out = new Uint8Array(BLOCK);
  let x = 0x2545f491;
  for (let i = 0; i < BLOCK; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
})();

/**
 * Bytes [offset, offset + length) of the synthetic video stream. Byte i is
 * `PATTERN[i mod 65536] XOR ((floor(i / 65536) * 167) mod 256)`: deterministic, cheap to compute
 * at any offset, and not periodic within 16 MiB, so ranges and whole-stream hashes are checkable.
 */
export function syntheticBytes(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  while (pos < length) {
    const abs = offset + pos;
    const within = abs % BLOCK;
    const mask = (Math.floor(abs / BLOCK) * 167) & 0xff;
    const n = Math.min(BLOCK - within, length - pos);
    for (let k = 0; k < n; k++) out[pos + k] = PATTERN[within + k]! ^ mask;
    pos += n;
  }
  return out;
}

export function syntheticSource(size: number): ByteSource {
  return { size, contentType: 'video/mp4', read: syntheticBytes };
}

// ---- ranges ----------------------------------------------------------------------------------

// One `Range` parser for reelay and the simulator (src/http/byte-range.ts).
export { parseByteRange as parseRange } from '../http/byte-range.js';

// ---- streaming -------------------------------------------------------------------------------

export const STREAM_CHUNK = 64 * 1024;

/**
 * A pull-based stream over bytes [start, end] of a source: the next chunk is produced only when
 * the consumer asks for it, so a slow client holds at most a chunk or two in memory.
 */
export function streamRange(src: ByteSource, start: number, end: number, chunk = STREAM_CHUNK): ReadableStream<Uint8Array> {
  let pos = start;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pos > end) {
          controller.close();
          return;
        }
        const n = Math.min(chunk, end - pos + 1);
        // Copy: the consumer may hold on to the chunk; asset buffers must not be shared out.
        controller.enqueue(new Uint8Array(src.read(pos, n)));
        pos += n;
        if (pos > end) controller.close();
      },
    },
    { highWaterMark: 1, size: () => 1 },
  );
}

/** A 200 / 206 / 416 response for a source, honouring a `Range` header. */
export function byteResponse(src: ByteSource, rangeHeader: string | undefined, extraHeaders: Record<string, string> = {}): Response {
  const range = parseByteRange(rangeHeader, src.size);
  const headers = new Headers({ 'accept-ranges': 'bytes', ...extraHeaders });
  if (range.kind === 'unsatisfiable') {
    headers.set('content-range', `bytes */${src.size}`);
    headers.set('content-type', 'application/json');
    const body = JSON.stringify({
      error: {
        message: `Requested range not satisfiable (resource is ${src.size} bytes).`,
        type: 'invalid_request_error',
        param: 'range',
        code: 'range_not_satisfiable',
      },
    });
    return new Response(body, { status: 416, headers });
  }
  headers.set('content-type', src.contentType);
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, src.size - 1];
  const length = Math.max(0, end - start + 1);
  headers.set('content-length', String(length));
  if (range.kind === 'partial') headers.set('content-range', `bytes ${start}-${end}/${src.size}`);
  const body = length === 0 ? null : streamRange(src, start, end);
  return new Response(body, { status: range.kind === 'partial' ? 206 : 200, headers });
}
