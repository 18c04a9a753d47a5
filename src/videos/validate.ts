import { ApiError, invalid } from '../errors.js';
import { isPriceError, parseSeconds, quote, priceModelName, type Catalog, type PriceQuote } from '../billing/catalog.js';
import { parseVideoObject } from '../billing/settlement.js';
import { isFilePart, type FieldMap, type FieldValue } from './request-body.js';
import type { JobRow } from '../db/billing-store.js';
import type { KeyRow } from '../db/keys-store.js';

/**
 * Validation of billable requests before anything is forwarded (pure). Each returns the price
 * quote the hold is placed for, or throws the contract's 400/403.
 */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp']);

function optionalString(fields: FieldMap, name: string): string | undefined {
  const v = fields[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw invalid(`'${name}' must be a non-empty string.`, name);
  return v;
}

function requirePrompt(fields: FieldMap): void {
  const v = fields['prompt'];
  if (typeof v !== 'string' || v.trim().length === 0) throw invalid("'prompt' is required and must be a non-empty string.", 'prompt');
}

function checkInputReference(v: FieldValue | undefined): void {
  if (v === undefined) return;
  if (isFilePart(v)) {
    if (!IMAGE_TYPES.has(v.type.toLowerCase())) {
      // An untyped or application/octet-stream part already carries its detected image type here (request-body.ts).
      throw invalid("'input_reference' must be a JPEG, PNG or WebP image (sent as image/jpeg, image/png or image/webp, or as application/octet-stream with image bytes).", 'input_reference');
    }
    if (v.size === 0) throw invalid("'input_reference' is an empty file.", 'input_reference');
    return;
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const okKeys = keys.length === 1 && (keys[0] === 'image_url' || keys[0] === 'file_id');
    const value = (v as FieldMap)[keys[0] ?? ''];
    if (okKeys && typeof value === 'string' && value.length > 0) return;
  }
  throw invalid("'input_reference' must be an image file or an object with one of 'image_url' or 'file_id'.", 'input_reference');
}

function toQuote(q: ReturnType<typeof quote>): PriceQuote {
  if (isPriceError(q)) throw new ApiError(q.code, q.message, q.param);
  return q;
}

export function checkModelAllowed(key: KeyRow, catalog: Catalog, model: string): void {
  if (!key.allowedModels) return;
  const alias = priceModelName(catalog, model);
  if (key.allowedModels.includes(model) || (alias !== undefined && key.allowedModels.includes(alias))) return;
  throw new ApiError('model_not_allowed', `This API key is not allowed to use the model '${model}'.`, 'model');
}

export function validateCreate(fields: FieldMap, catalog: Catalog): PriceQuote {
  requirePrompt(fields);
  const model = optionalString(fields, 'model') ?? 'sora-2';
  const size = fields['size'];
  if (size !== undefined && typeof size !== 'string') throw invalid("'size' must be a string such as '720x1280'.", 'size');
  checkInputReference(fields['input_reference']);
  return toQuote(quote(catalog, { model, seconds: fields['seconds'], size }));
}

/**
 * The whole length of a finished source video, as the upstream reported it: for a video made by an
 * extension that is the stitched length, not the extension's own seconds. Rows written before
 * reelay recorded it fall back to the stored final object, then to the billed seconds.
 */
export function sourceLengthOf(source: JobRow): number | undefined {
  if (source.outputSeconds !== null && source.outputSeconds >= 1) return source.outputSeconds;
  if (source.kind === 'extension' && source.finalObject) {
    const reported = parseSeconds((parseVideoObject(source.finalObject) ?? {}).seconds);
    if (reported !== undefined && reported >= 1 && reported <= 86_400) return reported;
  }
  const billed = source.billedSeconds || source.requestedSeconds;
  return billed >= 1 ? billed : undefined;
}

/** A remix or edit needs a source that completed: its length is what the new job is priced at. */
function completedSourceLength(source: JobRow): number {
  if (source.status !== 'completed') {
    throw invalid(`The source video has not completed (status '${source.status}'); only a completed video can be remixed or edited.`, 'video');
  }
  const seconds = sourceLengthOf(source);
  if (seconds === undefined) throw invalid('The source video has no usable length to price this request at.', 'video');
  return seconds;
}

/** Remix: priced at the source video's whole length and size. */
export function validateRemix(fields: FieldMap, catalog: Catalog, source: JobRow): PriceQuote {
  requirePrompt(fields);
  return quoteFromSource(catalog, source, completedSourceLength(source));
}

/** The `video` reference of edits and extensions: `{id}` (multipart `video[id]`). */
export function sourceVideoRef(fields: FieldMap): string {
  const v = fields['video'];
  if (v && typeof v === 'object' && !Array.isArray(v) && !isFilePart(v)) {
    const id = (v as FieldMap)['id'];
    if (typeof id === 'string' && id.length > 0 && id.length <= 200) return id;
  }
  if (isFilePart(v)) {
    throw invalid("'video' must reference a video created through this gateway as {\"id\": \"video_…\"}; uploaded videos cannot be priced.", 'video');
  }
  throw invalid("'video' is required: {\"id\": \"video_…\"}.", 'video');
}

export function validateEdit(fields: FieldMap, catalog: Catalog, source: JobRow): PriceQuote {
  requirePrompt(fields);
  return quoteFromSource(catalog, source, completedSourceLength(source));
}

/** Extensions are priced at the requested extension seconds, at the source's model and size. */
export function validateExtension(fields: FieldMap, catalog: Catalog, source: JobRow): PriceQuote {
  requirePrompt(fields);
  if (fields['seconds'] === undefined) throw invalid("'seconds' is required for an extension.", 'seconds');
  return toQuote(quote(catalog, { model: source.model, seconds: fields['seconds'], size: source.size }, { extension: true }));
}

function quoteFromSource(catalog: Catalog, source: JobRow, seconds: number): PriceQuote {
  const q = quote(catalog, { model: source.model, size: source.size });
  if (isPriceError(q)) throw new ApiError(q.code, q.message, q.param);
  if (q.flatMicros !== null) return { ...q, seconds };
  return { ...q, seconds, priceMicros: seconds * q.rateMicros };
}
