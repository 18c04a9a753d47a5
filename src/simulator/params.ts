/** Validation of the /v1/videos request parameters, with OpenAI-style 400 errors. */
import { type Fields, isBlob, isPlainObject } from './body.js';
import { invalidRequest, missingParam } from './errors.js';
import type { InputReference } from './state.js';

export const VIDEO_SECONDS = ['4', '8', '12'] as const;
export const EXTENSION_SECONDS = ['4', '8', '12', '16', '20'] as const;
export const VIDEO_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024', '1080x1920', '1920x1080'] as const;
export const DEFAULT_MODEL = 'sora-2';
export const DEFAULT_SECONDS = '4';
export const DEFAULT_SIZE = '720x1280';
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

export interface CreateParams {
  prompt: string;
  model: string;
  seconds: string;
  size: string;
  inputReference: InputReference | null;
}

/** A source video: an existing job id or an uploaded file. */
export type VideoRef = { id: string } | { file: { filename: string; contentType: string; bytes: number } };

function rejectUnknown(fields: Fields, allowed: readonly string[]): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) throw invalidRequest(`Unknown parameter: '${key}'.`, key, 'unknown_parameter');
  }
}

function requiredString(fields: Fields, name: string): string {
  const v = fields[name];
  if (v === undefined || v === null || v === '') throw missingParam(name);
  if (typeof v !== 'string') throw invalidRequest(`Invalid type for '${name}': expected a string.`, name, 'invalid_type');
  if (v.trim() === '') throw invalidRequest(`'${name}' must not be empty.`, name);
  return v;
}

function optionalString(fields: Fields, name: string): string | undefined {
  const v = fields[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw invalidRequest(`Invalid type for '${name}': expected a string.`, name, 'invalid_type');
  return v;
}

function oneOf(value: string, allowed: readonly string[], name: string): string {
  if (!allowed.includes(value)) {
    throw invalidRequest(
      `Invalid value: '${value}'. Supported values are: ${allowed.map((a) => `'${a}'`).join(', ')}.`,
      name,
    );
  }
  return value;
}

/** Sniffs JPEG / PNG / WebP magic bytes. */
export function sniffImageType(head: Uint8Array): string | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head.length >= 8 && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return 'image/png';
  const ascii = (a: number, b: number) => String.fromCharCode(...head.subarray(a, b));
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return null;
}

async function parseInputReference(v: unknown): Promise<InputReference | null> {
  if (v === undefined || v === null) return null;
  const param = 'input_reference';
  if (isBlob(v)) {
    if (v.size === 0) throw invalidRequest('The input_reference file is empty.', param);
    const declared = (v.type || '').split(';')[0]!.trim().toLowerCase();
    const sniffed = sniffImageType(new Uint8Array(await v.slice(0, 16).arrayBuffer()));
    const generic = declared === '' || declared === 'application/octet-stream';
    const type = generic ? sniffed : declared;
    if (!type || !IMAGE_TYPES.includes(type)) {
      throw invalidRequest(
        `Invalid input_reference file type '${declared || 'unknown'}'. Supported types are image/jpeg, image/png and image/webp.`,
        param,
        'invalid_type',
      );
    }
    const filename = typeof (v as File).name === 'string' ? (v as File).name : 'input_reference';
    return { type: 'file', filename, contentType: type, bytes: v.size };
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    const extra = keys.find((k) => k !== 'image_url' && k !== 'file_id');
    if (extra) throw invalidRequest(`Unknown parameter: 'input_reference.${extra}'.`, `input_reference.${extra}`, 'unknown_parameter');
    if (keys.length !== 1) {
      throw invalidRequest('input_reference must have exactly one of image_url or file_id.', param);
    }
    if (typeof v.image_url === 'string') {
      if (!/^(https?:\/\/|data:image\/(jpeg|png|webp);base64,)/i.test(v.image_url)) {
        throw invalidRequest('input_reference.image_url must be an http(s) URL or a base64 image data URL.', 'input_reference.image_url');
      }
      return { type: 'image_url', image_url: v.image_url };
    }
    if (typeof v.file_id === 'string' && v.file_id !== '') return { type: 'file_id', file_id: v.file_id };
    throw invalidRequest('input_reference.image_url / file_id must be a non-empty string.', param, 'invalid_type');
  }
  throw invalidRequest('input_reference must be an image file or an object {image_url} / {file_id}.', param, 'invalid_type');
}

export async function parseCreate(fields: Fields): Promise<CreateParams> {
  rejectUnknown(fields, ['prompt', 'model', 'seconds', 'size', 'input_reference']);
  const prompt = requiredString(fields, 'prompt');
  const model = optionalString(fields, 'model') ?? DEFAULT_MODEL;
  if (model.trim() === '') throw invalidRequest("'model' must not be empty.", 'model');
  const seconds = oneOf(optionalString(fields, 'seconds') ?? DEFAULT_SECONDS, VIDEO_SECONDS, 'seconds');
  const size = oneOf(optionalString(fields, 'size') ?? DEFAULT_SIZE, VIDEO_SIZES, 'size');
  const inputReference = await parseInputReference(fields.input_reference);
  return { prompt, model, seconds, size, inputReference };
}

export function parseRemix(fields: Fields): { prompt: string } {
  rejectUnknown(fields, ['prompt']);
  return { prompt: requiredString(fields, 'prompt') };
}

function parseVideoRef(fields: Fields): VideoRef {
  const v = fields.video;
  if (v === undefined || v === null || v === '') throw missingParam('video');
  if (isBlob(v)) {
    if (v.size === 0) throw invalidRequest('The video file is empty.', 'video');
    const type = (v.type || '').split(';')[0]!.trim().toLowerCase();
    if (type !== '' && type !== 'application/octet-stream' && !type.startsWith('video/')) {
      throw invalidRequest(`Invalid video file type '${type}'. Upload a video file (e.g. video/mp4).`, 'video', 'invalid_type');
    }
    const filename = typeof (v as File).name === 'string' ? (v as File).name : 'video';
    return { file: { filename, contentType: type || 'application/octet-stream', bytes: v.size } };
  }
  if (isPlainObject(v)) {
    const extra = Object.keys(v).find((k) => k !== 'id');
    if (extra) throw invalidRequest(`Unknown parameter: 'video.${extra}'.`, `video.${extra}`, 'unknown_parameter');
    if (typeof v.id === 'string' && v.id !== '') return { id: v.id };
    throw missingParam('video.id');
  }
  throw invalidRequest('video must be a video file or an object {id}.', 'video', 'invalid_type');
}

export function parseEdit(fields: Fields): { prompt: string; video: VideoRef } {
  rejectUnknown(fields, ['prompt', 'video']);
  const prompt = requiredString(fields, 'prompt');
  return { prompt, video: parseVideoRef(fields) };
}

export function parseExtend(fields: Fields): { prompt: string; seconds: string; video: VideoRef } {
  rejectUnknown(fields, ['prompt', 'seconds', 'video']);
  const prompt = requiredString(fields, 'prompt');
  const raw = optionalString(fields, 'seconds');
  if (raw === undefined || raw === '') throw missingParam('seconds');
  const seconds = oneOf(raw, EXTENSION_SECONDS, 'seconds');
  return { prompt, seconds, video: parseVideoRef(fields) };
}

export function parseCharacter(fields: Fields): { name: string } {
  rejectUnknown(fields, ['name', 'video']);
  const name = requiredString(fields, 'name');
  const video = fields.video;
  if (video === undefined || video === null || video === '') throw missingParam('video');
  if (!isBlob(video)) throw invalidRequest('video must be an uploaded video file (multipart/form-data).', 'video', 'invalid_type');
  if (video.size === 0) throw invalidRequest('The video file is empty.', 'video');
  return { name };
}
