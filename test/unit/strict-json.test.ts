import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JsonShapeError, MAX_JSON_DEPTH, parseStrictJson } from '../../src/videos/strict-json.js';

/** Strings full of what a JSON scanner can get wrong: quotes, backslashes, brackets, controls, surrogates. */
const unit = fc.oneof(
  fc.constantFrom('"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u001f', '\u2028', '\ud800', '\udfff', '{', '}', '[', ']', ':', ',', 'a', 'é', '😀'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const json = fc.jsonValue({ stringUnit: unit, maxDepth: 6 });
const whitespace = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');

/** `"\u0061\u0062"`: the same string as `"ab"`, every character escaped. */
function escapedString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `"${out}"`;
}

/** Serialises like JSON.stringify, with keys fully escaped and `ws` between every token. */
function serialize(v: unknown, ws: string, escapeKeys: boolean): string {
  if (Array.isArray(v)) return `[${ws}${v.map((x) => serialize(x, ws, escapeKeys)).join(`${ws},${ws}`)}${ws}]`;
  if (v !== null && typeof v === 'object') {
    const members = Object.entries(v).map(([k, x]) => `${escapeKeys ? escapedString(k) : JSON.stringify(k)}${ws}:${ws}${serialize(x, ws, escapeKeys)}`);
    return `{${ws}${members.join(`${ws},${ws}`)}${ws}}`;
  }
  return JSON.stringify(v);
}

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function shapeError(text: string, maxDepth?: number): JsonShapeError | null {
  try {
    parseStrictJson(text, maxDepth);
    return null;
  } catch (err) {
    if (err instanceof JsonShapeError) return err;
    throw err;
  }
}

describe('parseStrictJson agrees with JSON.parse on all valid JSON', () => {
  it('same value for generated JSON (unicode, escapes, nested arrays), with any whitespace and escaped keys', () => {
    fc.assert(
      fc.property(json, whitespace, fc.boolean(), (v, ws, escapeKeys) => {
        const text = serialize(v, ws, escapeKeys);
        expect(parseStrictJson(text)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('invalid JSON throws JSON.parse’s SyntaxError, never a shape error', () => {
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (text) => {
        let expected: unknown = null;
        try {
          JSON.parse(text);
        } catch (err) {
          expected = err;
        }
        fc.pre(expected !== null);
        expect(() => parseStrictJson(text)).toThrow(SyntaxError);
      }),
    );
  });
});

describe('duplicate keys are found at any depth, however they are spelled', () => {
  it('a key repeated (plain once, escaped once) anywhere in a generated body is reported with its path', () => {
    const withDuplicate = fc
      .tuple(json, fc.array(fc.oneof(fc.string({ unit, maxLength: 5 }).filter((s) => s !== 'z'), fc.nat(3)), { maxLength: 4 }), fc.string({ unit, maxLength: 8 }), json, json, whitespace)
      .map(([base, path, key, first, second, ws]) => {
        // Build `path` down into base, then put {key: first, ..., key: second} there.
        const segments: (string | number)[] = [];
        let text = `{${ws}${JSON.stringify(key)}:${serialize(first, ws, false)},${ws}"other":${serialize(base, ws, false)},${ws}${escapedString(key)}:${serialize(second, ws, false)}${ws}}`;
        for (const seg of [...path].reverse()) {
          if (typeof seg === 'number') text = `[${'0,'.repeat(seg)}${text}]`;
          else text = `{"z":1,${JSON.stringify(seg)}:${text}}`;
        }
        // The path as the error names it: the outer object's keys are unnamed, so a leading number needs a wrapper.
        text = `{"body":${text}}`;
        segments.push('body', ...path, key);
        let expected = '';
        for (const seg of segments) expected += typeof seg === 'number' ? `[${seg}]` : expected === '' ? seg : `.${seg}`;
        return { text, expected };
      });
    fc.assert(
      fc.property(withDuplicate, ({ text, expected }) => {
        expect(() => JSON.parse(text)).not.toThrow();
        const err = shapeError(text, Infinity);
        expect(err?.reason).toBe('duplicate_key');
        expect(err?.path).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['{"model":"sora-2-pro","model":"sora-2"}', 'model'],
    ['{"input_reference":{"image_url":"a","image_url":"b"}}', 'input_reference.image_url'],
    ['{"a":[{"x":1},{"x":1,"y":2,"x":3}]}', 'a[1].x'],
    ['{"__proto__":1,"__proto__":2}', '__proto__'],
    ['{"seconds":"4","s\\u0065conds":"12"}', 'seconds'],
  ])('%s → duplicate %s', (text, path) => {
    expect(shapeError(text)).toMatchObject({ reason: 'duplicate_key', path });
  });

  it('the same key in sibling objects, or as a value, is no duplicate', () => {
    expect(parseStrictJson('{"a":{"id":1},"b":{"id":1},"c":["a","a"],"d":"a"}')).toEqual({ a: { id: 1 }, b: { id: 1 }, c: ['a', 'a'], d: 'a' });
  });
});

describe('depth', () => {
  const nested = (depth: number) => `{"prompt":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

  it(`${MAX_JSON_DEPTH} levels are read; one more is refused naming the top-level field`, () => {
    expect(shapeError(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(shapeError(nested(MAX_JSON_DEPTH + 1))).toMatchObject({ reason: 'too_deep', path: 'prompt' });
  });

  it.each([5_000, 100_000])('%i levels of arrays or objects are refused, not a stack overflow', (depth) => {
    expect(shapeError(nested(depth))).toMatchObject({ reason: 'too_deep', path: 'prompt' });
    const objects = `{"prompt":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    expect(shapeError(objects)).toMatchObject({ reason: 'too_deep', path: 'prompt' });
  });

  it('generated values are refused exactly when deeper than the limit', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 1, max: 7 }), (v, limit) => {
        const err = shapeError(JSON.stringify(v), limit);
        expect(err?.reason ?? null).toBe(depthOf(v) > limit ? 'too_deep' : null);
      }),
      { numRuns: 500 },
    );
  });
});
