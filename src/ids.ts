import { randomBytes } from 'node:crypto';

const ID_BYTES = 12;
/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time and handed out 12 bytes per id: one
 * system call per ~340 ids instead of one per id (a request id is made for every request).
 */
let pool = Buffer.alloc(0);
let offset = 0;

/** Prefixed random ids make logs readable: req_, key_, job_, led_, aud_. */
export function newId(prefix: 'req' | 'key' | 'job' | 'led' | 'aud'): string {
  if (offset + ID_BYTES > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  offset += ID_BYTES;
  return `${prefix}_${pool.toString('hex', offset - ID_BYTES, offset)}`;
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming x-request-id is reused only when it is short and made of safe characters. */
export function isAcceptableRequestId(value: string | undefined | null): value is string {
  return typeof value === 'string' && CLIENT_REQUEST_ID.test(value);
}
