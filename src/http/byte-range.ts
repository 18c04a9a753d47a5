/**
 * A request's `Range` header against a resource of `size` bytes (pure), for archived content and
 * the simulator's media. A single byte range (`bytes=a-b`, `bytes=a-`, suffix
 * `bytes=-n`) is served as 206; one beyond the end as 416; anything else (other units, several
 * ranges, garbage, b < a) is ignored as RFC 9110 allows, and the whole object is served.
 */
export type ByteRange =
  | { kind: 'full' }
  /** `end` inclusive. */
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

export function parseByteRange(header: string | undefined | null, size: number): ByteRange {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const suffix = Number(b);
    if (!Number.isSafeInteger(suffix) || suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  if (!Number.isSafeInteger(start)) return { kind: 'unsatisfiable' };
  if (b !== '' && Number(b) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { kind: 'partial', start, end };
}
