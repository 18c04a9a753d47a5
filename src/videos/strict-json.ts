/**
 * JSON for request bodies: `JSON.parse`, plus the two things it cannot see.
 *
 * - A duplicate key, at any depth (`{"model":"sora-2-pro","model":"sora-2"}`): JSON.parse keeps the
 *   last value while an upstream may read the first, so reelay would validate and bill one reading
 *   of the body and forward another. Keys are compared decoded (`"a"` and `"\u0061"` are the same).
 * - Nesting deeper than `maxDepth` objects/arrays: nothing in the video API nests past a few
 *   levels, and deep values would make every later recursive walk (the idempotency canonical form)
 *   overflow the stack.
 *
 * The text is first parsed by JSON.parse (so only valid JSON is scanned, and the values are
 * exactly JSON.parse's); the scan is a single iterative pass over the text, whatever its depth.
 */
export const MAX_JSON_DEPTH = 64;

export class JsonShapeError extends Error {
  constructor(
    readonly reason: 'duplicate_key' | 'too_deep',
    /** Where: the duplicate key's path (`model`, `input_reference.image_url`, `a[2].b`) or the top-level field holding the deep value. */
    readonly path: string | null,
  ) {
    super(reason === 'duplicate_key' ? `Duplicate key '${path}'.` : `Nested deeper than allowed${path === null ? '' : ` in '${path}'`}.`);
  }
}

interface Frame {
  /** Keys seen so far in an object; null for an array. */
  keys: Set<string> | null;
  /** In an object: the current key (null until the first one). In an array: the current index. */
  at: string | number | null;
  expectKey: boolean;
}

/** Parses like JSON.parse (throwing its SyntaxError on invalid JSON), or throws JsonShapeError. */
export function parseStrictJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const value: unknown = JSON.parse(text);
  checkShape(text, maxDepth);
  return value;
}

/** The scan over text already known to be valid JSON. */
function checkShape(text: string, maxDepth: number): void {
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) throw new JsonShapeError('too_deep', stack[0]?.keys ? String(stack[0].at) : null);
      stack.push(c === 0x7b ? { keys: new Set(), at: null, expectKey: true } : { keys: null, at: 0, expectKey: false });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1]!;
      if (top.keys) top.expectKey = true;
      else top.at = (top.at as number) + 1;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else if (d === 0x22) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        top.at = key;
        top.expectKey = false;
        if (top.keys.has(key)) throw new JsonShapeError('duplicate_key', pathOf(stack));
        top.keys.add(key);
      }
      i = j;
    }
    // Whitespace, ':', numbers and literals need nothing.
  }
}

/** `model`, `input_reference.image_url`, `a[2].b` (the body's outer object is not named). */
function pathOf(frames: Frame[]): string {
  let out = '';
  for (const f of frames) {
    if (f.keys) out += out === '' ? String(f.at) : `.${String(f.at)}`;
    else out += `[${String(f.at)}]`;
  }
  return out;
}
