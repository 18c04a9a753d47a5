import { randomBytes } from 'node:crypto';

/** Prefixed random ids make logs readable: req_, key_, job_, led_, aud_. */
export function newId(prefix: 'req' | 'key' | 'job' | 'led' | 'aud'): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming x-request-id is reused only when it is short and made of safe characters. */
export function isAcceptableRequestId(value: string | undefined | null): value is string {
  return typeof value === 'string' && CLIENT_REQUEST_ID.test(value);
}
