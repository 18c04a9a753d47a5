import { describe, expect, it } from 'vitest';
import { isAcceptableRequestId, newId } from '../../src/ids.js';

describe('newId', () => {
  it('is the prefix and 24 hex digits, unique across many ids', () => {
    const ids = Array.from({ length: 5000 }, () => newId('req'));
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('starts with the creation time in ms, so ids made later sort after earlier ones', async () => {
    const before = Date.now();
    const first = newId('job');
    const after = Date.now();
    const stamp = parseInt(first.slice(4, 16), 16);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(after);
    await new Promise((r) => setTimeout(r, 5));
    const later = Array.from({ length: 50 }, () => newId('job'));
    for (const id of later) expect(id > first).toBe(true);
  });

  it('keeps 48 random bits after the time: ids made in the same ms differ there', () => {
    const tails = new Set(Array.from({ length: 1000 }, () => newId('led').slice(16)));
    expect(tails.size).toBe(1000);
  });
});

describe('isAcceptableRequestId', () => {
  it('accepts short safe ids and refuses the rest', () => {
    expect(isAcceptableRequestId('client-123.abc:x_y')).toBe(true);
    expect(isAcceptableRequestId('a'.repeat(129))).toBe(false);
    expect(isAcceptableRequestId('bad id')).toBe(false);
    expect(isAcceptableRequestId('x\r\ny')).toBe(false);
    expect(isAcceptableRequestId(undefined)).toBe(false);
  });
});
