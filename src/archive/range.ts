/**
 * The `Range` header sent to an object store for bytes [start, end]: always absolute, never a
 * suffix range, so a store that gets suffix ranges wrong (s3rver does) still answers correctly.
 */
export function absoluteRangeHeader(start: number, end: number): string {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) throw new RangeError(`bad byte range ${start}-${end}`);
  return `bytes=${start}-${end}`;
}
