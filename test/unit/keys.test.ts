import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { displayPrefix, generateKeySecret, hashKey, KEY_PREFIX } from '../../src/keys/secret.js';
import { isAcceptableRequestId } from '../../src/ids.js';
import { RateLimiter } from '../../src/keys/rate-limiter.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';

describe('key secrets', () => {
  it('have the sk-reelay- prefix and 256 bits of randomness', () => {
    const secrets = new Set(Array.from({ length: 1000 }, generateKeySecret));
    expect(secrets.size).toBe(1000);
    for (const s of secrets) {
      expect(s.startsWith(KEY_PREFIX)).toBe(true);
      expect(Buffer.from(s.slice(KEY_PREFIX.length), 'base64url').length).toBe(32);
    }
  });

  it('are stored only as their SHA-256 and shown by a short prefix', () => {
    const s = generateKeySecret();
    expect(hashKey(s)).toBe(createHash('sha256').update(s).digest('hex'));
    expect(displayPrefix(s)).toBe(s.slice(0, 14));
  });
});

describe('request ids', () => {
  it('accepts up to 128 characters of [A-Za-z0-9._:-] only', () => {
    expect(isAcceptableRequestId('abc-123_x.y:z')).toBe(true);
    expect(isAcceptableRequestId('a'.repeat(128))).toBe(true);
    expect(isAcceptableRequestId('a'.repeat(129))).toBe(false);
    expect(isAcceptableRequestId('has space')).toBe(false);
    expect(isAcceptableRequestId('')).toBe(false);
    expect(isAcceptableRequestId(undefined)).toBe(false);
  });
});

describe('rate limiter', () => {
  it('allows the limit per minute, then asks to retry later, then recovers', async () => {
    let t = 0;
    const database = openMigratedDatabase(':memory:');
    try {
      const rl = new RateLimiter(createStore(database), () => t);
      for (let i = 0; i < 5; i++) expect(await rl.take('k', 5)).toBe(0);
      const wait = await rl.take('k', 5);
      expect(wait).toBeGreaterThan(0);
      expect(await rl.take('other', 5)).toBe(0);
      t += 2 * 60_000;
      expect(await rl.take('k', 5)).toBe(0);
    } finally {
      database.close();
    }
  });
});
