import { invalid, ApiError } from '../errors.js';
import { JsonShapeError, MAX_JSON_DEPTH, parseStrictJson } from './strict-json.js';
import { readMultipart, type MultipartEntry } from './multipart-reader.js';
import { boundaryOf, splitParts, withPartTypes, type PartLayout } from './multipart-layout.js';
import { sniffImageType } from './image-type.js';

/**
 * Parses a JSON or multipart/form-data body into plain fields for validation, while the raw bytes
 * are what gets forwarded. Objects are built without prototypes so keys like `__proto__` are inert.
 */
export interface FilePart {
  kind: 'file';
  name: string;
  /** The type the part is forwarded with (for an image sent as application/octet-stream or untyped: the detected one). */
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
  /** The bytes to forward: as received, except file parts whose image type was detected (see fileType). */
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

/** A part's name into the fields: `a` or one level of nesting `a[b]`; any repeat is refused. */
function place(fields: FieldMap, name: string, v: FieldValue): void {
  const [outer, inner] = splitFieldName(name);
  if (inner === null || inner === '') {
    if (outer in fields) throw invalid(`Duplicate multipart field '${clip(outer)}'.`, clip(outer));
    fields[outer] = v;
    return;
  }
  const existing = fields[outer];
  const nested = existing === undefined ? dict() : existing;
  if (typeof nested !== 'object' || nested === null || Array.isArray(nested) || isFilePart(nested)) {
    throw invalid(`Conflicting multipart fields for '${clip(outer)}'.`, clip(outer));
  }
  if (inner in nested) throw invalid(`Duplicate multipart field '${clip(name)}'.`, clip(name));
  nested[inner] = v;
  fields[outer] = nested;
}

/**
 * The type a file part is forwarded with: as declared, except that one declared as
 * application/octet-stream or not at all (as the SDKs send streams and raw bytes) takes the image
 * type its bytes show. `retype` says whether that differs from what the part's header says.
 */
function fileType(entry: Extract<MultipartEntry, { kind: 'file' }>, part: PartLayout): { type: string; retype: boolean } {
  const declared = part.contentType && part.contentType.value !== '' ? entry.mimeType : null;
  if (declared === null || declared === 'application/octet-stream') {
    const sniffed = sniffImageType(entry.head);
    if (sniffed) return { type: sniffed, retype: true };
  }
  return { type: declared ?? '', retype: false };
}

async function parseMultipart(raw: Buffer, contentType: string): Promise<{ fields: FieldMap; raw: Buffer }> {
  // The layout first: it counts the parts (and refuses too many) before busboy reads any of them.
  const layout = splitParts(raw, boundaryOf(contentType));
  const entries = await readMultipart(raw, contentType);
  if (entries.length !== layout.length || entries.some((e) => !e.name)) {
    throw invalid('Every multipart part needs a Content-Disposition: form-data header with a name.', null);
  }
  const fields = dict();
  const retyped = new Map<number, string>();
  entries.forEach((entry, index) => {
    let v: FieldValue;
    if (entry.kind === 'field') {
      v = entry.value;
    } else {
      const { type, retype } = fileType(entry, layout[index]!);
      if (retype) retyped.set(index, type);
      v = { kind: 'file', name: entry.filename, type, size: entry.size, sha256: entry.sha256 };
    }
    place(fields, entry.name!, v);
  });
  return { fields, raw: withPartTypes(raw, layout, retyped) };
}

function parseJson(raw: Buffer): FieldMap {
  let value: unknown;
  try {
    value = parseStrictJson(raw.toString('utf8'));
  } catch (err) {
    if (!(err instanceof JsonShapeError)) throw invalid('We could not parse the JSON body of your request.', null);
    const param = err.path === null ? null : clip(err.path);
    if (err.reason === 'duplicate_key') throw invalid(`The JSON body has the key '${param}' more than once.`, param);
    throw invalid(`The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`, param);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('The request body must be a JSON object.', null);
  }
  return value as FieldMap;
}

/** Names from the body are echoed in errors at most this long. */
function clip(name: string): string {
  return name.length > 100 ? `${name.slice(0, 100)}…` : name;
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
  let forwarded = raw;
  if (mime === 'multipart/form-data') {
    if (!/boundary=/i.test(contentType)) throw invalid('multipart/form-data needs a boundary.', null);
    ({ fields, raw: forwarded } = await parseMultipart(raw, contentType));
  } else if (mime === 'application/json' || (mime === '' && raw.length > 0)) {
    fields = parseJson(raw);
  } else if (raw.length === 0) {
    fields = dict();
  } else {
    throw new ApiError('invalid_request', `Unsupported content type '${mime.slice(0, 100)}': send application/json or multipart/form-data.`, null);
  }
  return { contentType, raw: forwarded, fields, canonical: JSON.stringify(canonicalize(fields)) };
}
