/**
 * Reads a request body (JSON, multipart/form-data or urlencoded) into one plain field object.
 *
 * Multipart keys in the SDK's nested format become nested objects: `input_reference[image_url]`
 * → `{ input_reference: { image_url } }`, `video[id]` → `{ video: { id } }`, `tags[]` → array.
 * File parts stay `Blob`s (global `File`).
 */
import { invalidRequest } from './errors.js';

export type Fields = Record<string, unknown>;

export const isBlob = (v: unknown): v is Blob => typeof Blob !== 'undefined' && v instanceof Blob;

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !isBlob(v);

export async function readFields(req: Request): Promise<Fields> {
  const type = (req.headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
    let form: FormData;
    try {
      form = await req.formData();
    } catch {
      throw invalidRequest('Could not parse the multipart/form-data body of your request.', null, 'invalid_multipart');
    }
    return fromFormEntries(form);
  }
  const text = await req.text();
  if (text.trim() === '') return {};
  if (type !== '' && !type.includes('json')) {
    throw invalidRequest(
      `Unsupported content-type '${type}'. Use application/json or multipart/form-data.`,
      null,
      'unsupported_content_type',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidRequest(
      'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
      null,
      'invalid_json',
    );
  }
  if (!isPlainObject(parsed)) throw invalidRequest('The request body must be a JSON object.', null, 'invalid_json');
  return parsed;
}

/** Builds nested fields from `a[b][c]` / `a[]` style keys. */
export function fromFormEntries(entries: Iterable<[string, FormDataEntryValue]>): Fields {
  const root: Fields = {};
  for (const [key, value] of entries) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m || !m[2]) {
      root[key] = value;
      continue;
    }
    const path = [m[1]!, ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
    let node: Record<string, unknown> = root;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i]!;
      const nextIsArray = path[i + 1] === '';
      let child = node[seg];
      if (nextIsArray) {
        if (!Array.isArray(child)) node[seg] = child = [];
        (child as unknown[]).push(value);
        node = {}; // an array segment must be last; anything after is dropped
        break;
      }
      if (!isPlainObject(child)) node[seg] = child = {};
      node = child as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (last !== '') node[last] = value;
  }
  return root;
}
