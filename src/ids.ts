import { randomBytes } from 'node:crypto';

const RANDOM_BYTES = 6;
/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time and handed out 6 bytes per id: one
 * system call per ~680 ids instead of one per id (a request id is made for every request).
 */
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * Prefixed ids make logs readable: req_, key_, job_, led_, aud_, evt_ (webhook events), whs_ (webhook secrets). 24 hex digits: the time in ms
 * (48 bits) then 48 random bits, so ids sort by creation and each index over them grows at its
 * end instead of at random places (the request log gets a row, and an index entry, per request).
 * Ids are names, never credentials: nothing is granted by knowing one.
 */
export function newId(prefix: 'req' | 'key' | 'job' | 'led' | 'aud' | 'evt' | 'whs'): string {
  if (offset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  offset += RANDOM_BYTES;
  return `${prefix}_${Date.now().toString(16).padStart(12, '0')}${pool.toString('hex', offset - RANDOM_BYTES, offset)}`;
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming x-request-id is reused only when it is short and made of safe characters. */
export function isAcceptableRequestId(value: string | undefined | null): value is string {
  return typeof value === 'string' && CLIENT_REQUEST_ID.test(value);
}
