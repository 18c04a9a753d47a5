import { invalid } from '../errors.js';

/**
 * Where each part of a multipart/form-data body sits in the raw bytes: its header block and its
 * Content-Type line. It serves three purposes next to busboy (which reads the values):
 * - the part count is checked before anything is parsed, with a native search per part, so a body
 *   of a million tiny fields is refused after reading a hundred of them;
 * - anything a parser may read one way and the upstream another is refused: repeated part
 *   headers or disposition parameters, folded headers, bytes after a boundary other than `--` or
 *   CRLF, a part without headers, a missing close delimiter, a charset other than UTF-8, a
 *   transfer encoding (base64, quoted-printable);
 * - a file part's Content-Type can be rewritten in place (the rest of the bytes are kept).
 * Framing follows busboy's: the delimiter is CRLF `--boundary`, with a CRLF assumed before the
 * body so that a body may start with `--boundary`; the preamble and epilogue are ignored.
 */
export const MAX_PARTS = 100;

export interface PartLayout {
  /** The part's header block: from its first header line to the CRLF CRLF that ends it. */
  headersStart: number;
  headersEnd: number;
  /** The Content-Type header line, [start, end) without its CRLF, and its value. */
  contentType: { start: number; end: number; value: string } | null;
}

/** A part's header block may be this long (busboy's own limit). */
const MAX_HEADER_BYTES = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const BCHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const malformed = () => invalid('Malformed multipart/form-data body.', null);

/** The boundary parameter: exactly one, made of RFC 2046 boundary characters. */
export function boundaryOf(contentType: string): string {
  const found = [...contentType.matchAll(/;\s*boundary=("([^"]*)"|[^;\s]*)/gi)];
  const value = found.length === 1 ? (found[0]![2] ?? found[0]![1]!) : '';
  if (!BCHARS.test(value)) throw invalid('multipart/form-data needs one valid boundary parameter.', null);
  return value;
}

/** Splits the body into parts (at most `maxParts`, else 400) or refuses it as malformed. */
export function splitParts(raw: Buffer, boundary: string, maxParts = MAX_PARTS): PartLayout[] {
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const parts: PartLayout[] = [];
  const first = raw.subarray(0, delimiter.length - 2).equals(delimiter.subarray(2)) ? -2 : raw.indexOf(delimiter);
  if (first === -1) throw malformed();
  let after = first + delimiter.length;
  for (;;) {
    if (raw[after] === 0x2d && raw[after + 1] === 0x2d) return parts;
    if (raw[after] !== 0x0d || raw[after + 1] !== 0x0a) throw malformed();
    if (parts.length === maxParts) {
      throw invalid(`A multipart body may have at most ${maxParts} parts.`, null);
    }
    const next = raw.indexOf(delimiter, after);
    const headersEnd = raw.indexOf(CRLFCRLF, after);
    if (next === -1 || headersEnd <= after || headersEnd + CRLFCRLF.length > next) throw malformed();
    if (headersEnd - after > MAX_HEADER_BYTES) throw malformed();
    parts.push(readHeaders(raw, after + CRLF.length, headersEnd));
    after = next + delimiter.length;
  }
}

function readHeaders(raw: Buffer, start: number, end: number): PartLayout {
  let contentType: PartLayout['contentType'] = null;
  const seen = new Set<string>();
  let lineStart = start;
  while (lineStart < end) {
    let lineEnd = raw.indexOf(CRLF, lineStart);
    if (lineEnd === -1 || lineEnd > end) lineEnd = end;
    const line = raw.toString('latin1', lineStart, lineEnd);
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    // No folded lines, no nameless or repeated headers: one reading only.
    if (colon <= 0 || !TOKEN.test(name) || seen.has(name)) throw malformed();
    seen.add(name);
    const value = line.slice(colon + 1).trim();
    if (name === 'content-type') {
      contentType = { start: lineStart, end: lineEnd, value };
      // busboy decodes a field in its declared charset, an upstream may not: only UTF-8 (or ASCII) is read one way.
      const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(value)?.[1]?.toLowerCase();
      if (charset !== undefined && !['utf-8', 'utf8', 'us-ascii'].includes(charset)) throw invalid(`Multipart parts must be UTF-8, not '${charset.slice(0, 40)}'.`, null);
    }
    // busboy passes a part's bytes as they are; an upstream could decode base64 or quoted-printable.
    if (name === 'content-transfer-encoding' && !['7bit', '8bit', 'binary'].includes(value.toLowerCase())) throw malformed();
    if (name === 'content-disposition') checkDispositionParams(value);
    lineStart = lineEnd + CRLF.length;
  }
  return { headersStart: start, headersEnd: end, contentType };
}

/** `form-data; name="a"; name="b"`: parsers disagree on which name counts, so it is refused. */
function checkDispositionParams(value: string): void {
  const names = new Set<string>();
  let inQuotes = false;
  let segment = '';
  const close = () => {
    const eq = segment.indexOf('=');
    if (eq > 0) {
      const param = segment.slice(0, eq).trim().toLowerCase();
      if (names.has(param)) throw malformed();
      names.add(param);
    }
    segment = '';
  };
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (inQuotes && ch === '\\') {
      segment += ch + (value[i + 1] ?? '');
      i++;
    } else if (ch === '"') {
      inQuotes = !inQuotes;
      segment += ch;
    } else if (ch === ';' && !inQuotes) close();
    else segment += ch;
  }
  close();
}

/** The body with the given parts' Content-Type set to `type` (the line replaced, or added last). */
export function withPartTypes(raw: Buffer, parts: PartLayout[], types: Map<number, string>): Buffer {
  if (types.size === 0) return raw;
  const pieces: Buffer[] = [];
  let copied = 0;
  for (const [index, type] of [...types].sort((a, b) => a[0] - b[0])) {
    const part = parts[index]!;
    const line = Buffer.from(`Content-Type: ${type}`, 'latin1');
    if (part.contentType) {
      pieces.push(raw.subarray(copied, part.contentType.start), line);
      copied = part.contentType.end;
    } else {
      pieces.push(raw.subarray(copied, part.headersEnd), CRLF, line);
      copied = part.headersEnd;
    }
  }
  pieces.push(raw.subarray(copied));
  return Buffer.concat(pieces);
}
