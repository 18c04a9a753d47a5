import busboy from 'busboy';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ApiError, invalid } from '../errors.js';
import { SNIFF_BYTES } from './image-type.js';

/**
 * Reads the parts of a buffered multipart/form-data body with busboy (a streaming parser), fed in
 * chunks with a turn of the event loop between them, so that parsing a 64 MiB body never holds
 * the server up (Response.formData() parses the whole body in one synchronous go). File parts are
 * hashed and sized as they stream by; only their first bytes are kept, to tell an image's type.
 */
export const MAX_FIELD_BYTES = 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;

export type MultipartEntry =
  | { kind: 'field'; name: string | undefined; value: string }
  | {
      kind: 'file';
      name: string | undefined;
      filename: string;
      /** The part's declared type as busboy reads it (`text/plain` when it declares none). */
      mimeType: string;
      size: number;
      sha256: string;
      head: Buffer;
    };

/** The parts in body order, one entry per part busboy reports (it skips parts without a form-data disposition). */
export async function readMultipart(raw: Buffer, contentType: string): Promise<MultipartEntry[]> {
  const entries: MultipartEntry[] = [];
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: { 'content-type': contentType }, defParamCharset: 'utf8', preservePath: true, limits: { fieldSize: MAX_FIELD_BYTES } });
  } catch {
    throw invalid('Malformed multipart/form-data body.', null);
  }
  bb.on('field', (name, value, info) => {
    if (info.valueTruncated) {
      bb.destroy(invalid(`A multipart field may be at most ${MAX_FIELD_BYTES} bytes long.`, name ? name.slice(0, 100) : null));
      return;
    }
    entries.push({ kind: 'field', name, value });
  });
  bb.on('file', (name, stream, info) => {
    const entry = { kind: 'file' as const, name, filename: info.filename ?? '', mimeType: info.mimeType, size: 0, sha256: '', head: Buffer.alloc(0) };
    entries.push(entry);
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      if (entry.size < SNIFF_BYTES) head.push(Buffer.from(chunk.subarray(0, SNIFF_BYTES - entry.size)));
      entry.size += chunk.length;
    });
    stream.on('end', () => {
      entry.sha256 = hash.digest('hex');
      entry.head = Buffer.concat(head);
    });
  });
  try {
    await pipeline(Readable.from(chunksOf(raw)), bb);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw invalid('Malformed multipart/form-data body.', null);
  }
  return entries;
}

async function* chunksOf(raw: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < raw.length; at += CHUNK_BYTES) {
    if (at > 0) await nextTurn();
    yield raw.subarray(at, at + CHUNK_BYTES);
  }
}
