import { createHash } from 'node:crypto';
import { invalid, ApiError } from '../errors.js';
import { asBodyInit } from '../http/body.js';

/**
 * Parses a JSON or multipart/form-data body into plain fields for validation, while the raw bytes
 * are what gets forwarded. Objects are built without prototypes so keys like `__proto__` are inert.
 */
export interface FilePart {
  kind: 'file';
  name: string;
  type: string;
  size: number;
  sha256: string;
}

export type FieldValue = string | number | boolean | null | FilePart | FieldMap | FieldValue[];
export interface FieldMap {
  [name: string]: FieldValue;
}

export interface ParsedBody {
  contentType: string;
  raw: Buffer;
  fields: FieldMap;
  /** Canonical form of the fields, independent of multipart boundaries: what idempotency hashes. */
  canonical: string;
}

export function isFilePart(v: unknown): v is FilePart {
  return typeof v === 'object' && v !== null && (v as FilePart).kind === 'file' && typeof (v as FilePart).sha256 === 'string';
}

function dict(): FieldMap {
  return Object.create(null) as FieldMap;
}

/** `input_reference[image_url]` → ['input_reference', 'image_url'] (one level, as the SDK sends). */
function splitFieldName(name: string): [string, string | null] {
  const m = /^([^[\]]+)\[([^[\]]*)\]$/.exec(name);
  return m ? [m[1]!, m[2]!] : [name, null];
}

async function parseMultipart(raw: Buffer, contentType: string): Promise<FieldMap> {
  let form: FormData;
  try {
    form = await new Response(asBodyInit(raw), { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw invalid('Malformed multipart/form-data body.', null);
  }
  const fields = dict();
  for (const [name, value] of form.entries()) {
    let v: FieldValue;
    if (typeof value === 'string') {
      v = value;
    } else {
      const bytes = Buffer.from(await value.arrayBuffer());
      v = { kind: 'file', name: value.name, type: value.type, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
    const [outer, inner] = splitFieldName(name);
    if (inner === null || inner === '') {
      if (outer in fields) throw invalid(`Duplicate multipart field '${outer}'.`, outer);
      fields[outer] = v;
    } else {
      const existing = fields[outer];
      const nested = existing && typeof existing === 'object' && !Array.isArray(existing) && !isFilePart(existing) ? (existing as FieldMap) : dict();
      if (existing !== undefined && nested !== existing) throw invalid(`Conflicting multipart fields for '${outer}'.`, outer);
      nested[inner] = v;
      fields[outer] = nested;
    }
  }
  return fields;
}

function parseJson(raw: Buffer): FieldMap {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalid('We could not parse the JSON body of your request.', null);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('The request body must be a JSON object.', null);
  }
  return value as FieldMap;
}

function canonicalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonicalize);
  if (v && typeof v === 'object') {
    // Without a prototype, a `__proto__` key stays an own key and counts in the idempotency hash.
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort()) out[k] = canonicalize((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** Reads a JSON or multipart body. Anything else is 415-like invalid_request. */
export async function parseRequestBody(raw: Buffer, contentTypeHeader: string | undefined): Promise<ParsedBody> {
  const contentType = contentTypeHeader ?? '';
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  let fields: FieldMap;
  if (mime === 'multipart/form-data') {
    if (!/boundary=/i.test(contentType)) throw invalid('multipart/form-data needs a boundary.', null);
    fields = await parseMultipart(raw, contentType);
  } else if (mime === 'application/json' || (mime === '' && raw.length > 0)) {
    fields = parseJson(raw);
  } else if (raw.length === 0) {
    fields = dict();
  } else {
    throw new ApiError('invalid_request', `Unsupported content type '${mime.slice(0, 100)}': send application/json or multipart/form-data.`, null);
  }
  return { contentType, raw, fields, canonical: JSON.stringify(canonicalize(fields)) };
}
