import { hash, randomBytes } from 'node:crypto';

/** Pure key-format helpers: generation, hashing, display prefix. */
export const KEY_PREFIX = 'sk-reelay-';

/** 32 random bytes (256 bits) in base64url: `sk-reelay-` + 43 characters. */
export function generateKeySecret(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Only this hash is stored; the plaintext is shown once. (One-shot `hash`: it runs on every request.) */
export function hashKey(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** What admins see to recognise a key: the fixed prefix and the first four random characters. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, KEY_PREFIX.length + 4);
}

export function looksLikeReelayKey(value: string): boolean {
  return value.startsWith(KEY_PREFIX);
}
