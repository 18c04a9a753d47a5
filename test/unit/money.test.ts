import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatUsd, parseUsd } from '../../src/money.js';

describe('money', () => {
  it('parses decimal strings and JSON numbers exactly', () => {
    expect(parseUsd('10.00')).toBe(10_000_000);
    expect(parseUsd('0.1')).toBe(100_000);
    expect(parseUsd('-2.5')).toBe(-2_500_000);
    expect(parseUsd(0.3)).toBe(300_000);
    expect(parseUsd('0.000001')).toBe(1);
  });

  it.each(['1.0000001', 'abc', '1e5', '', ' 1 2', '--1', '1,00', '9007199254.740992', '999999999999.999999', '-9007199254.740992'])('refuses %j', (v) => {
    expect(() => parseUsd(v)).toThrow();
  });

  it('refuses non-finite numbers', () => {
    expect(() => parseUsd(Number.NaN)).toThrow();
    expect(() => parseUsd(Infinity)).toThrow();
  });

  it('formats micro-USD with six decimals', () => {
    expect(formatUsd(400_000)).toBe('0.400000');
    expect(formatUsd(8_400_000)).toBe('8.400000');
    expect(formatUsd(-1)).toBe('-0.000001');
  });

  it('round-trips every amount through format and parse', () => {
    fc.assert(fc.property(fc.integer({ min: -1e15, max: 1e15 }), (m) => parseUsd(formatUsd(m)) === m));
  });
});
