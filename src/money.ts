/**
 * Money is integer micro-USD everywhere. These helpers convert to and from decimal strings
 * exactly, without ever going through a float.
 */
export const MICROS_PER_USD = 1_000_000;

export class MoneyFormatError extends Error {}

const DECIMAL = /^(-)?(\d{1,12})(?:\.(\d{1,6}))?$/;

/** "10.5" → 10_500_000. Accepts JSON numbers with at most 6 decimals too. */
export function parseUsd(input: string | number): number {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new MoneyFormatError('amount must be a finite number');
    text = String(input);
    if (/e/i.test(text)) throw new MoneyFormatError('amount must be a plain decimal');
  } else {
    text = input.trim();
  }
  const m = DECIMAL.exec(text);
  if (!m) throw new MoneyFormatError('amount must be a decimal string with at most 6 decimals, e.g. "10.00"');
  const whole = BigInt(m[2]!);
  const frac = BigInt((m[3] ?? '').padEnd(6, '0'));
  const micros = whole * 1_000_000n + frac;
  // Beyond 2^53 micro-USD (about 9 billion USD) a JS number can no longer hold the amount exactly.
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new MoneyFormatError(`amount must be at most ${formatUsd(Number.MAX_SAFE_INTEGER)}`);
  const signed = m[1] ? -micros : micros;
  return Number(signed);
}

/** 400000 → "0.400000" */
export function formatUsd(micros: number): string {
  const negative = micros < 0;
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / MICROS_PER_USD);
  const frac = String(abs % MICROS_PER_USD).padStart(6, '0');
  return `${negative ? '-' : ''}${whole}.${frac}`;
}
