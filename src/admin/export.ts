import type { UsageRow } from '../db/usage-store.js';
import type { JobCursor } from '../db/admin-store.js';
import { formatUsd } from '../money.js';

/**
 * The billing export, shared by `GET /admin/usage/export` and `reelay usage export`: one row per
 * billable job, built page by page from the database (keyset pagination, `pageSize` rows at a
 * time) so an export of any size holds only one page in memory. The HTTP route wraps the chunks
 * in a pull-based ReadableStream (the next page is read only when the client has taken the last
 * one); the CLI writes them to stdout or a file, waiting for `drain`.
 */
export const EXPORT_FORMATS = ['csv', 'jsonl', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_COLUMNS = [
  'video_id',
  'job_id',
  'key_id',
  'key_name',
  'kind',
  'model',
  'size',
  'requested_seconds',
  'seconds',
  'pricing',
  'unit_price_usd',
  'amount_usd',
  'status',
  'error_code',
  'created_at',
  'completed_at',
  'request_id',
  'upstream_request_id',
  'upstream_id',
] as const;

export type ExportColumn = (typeof EXPORT_COLUMNS)[number];
export type ExportRow = Record<ExportColumn, string | number | null>;

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/jsonl; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

export const EXPORT_PAGE_SIZE = 1000;

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A database row → the export's row. `seconds` are the billed seconds, 0 unless the job completed. */
export function exportRow(r: UsageRow): ExportRow {
  const flat = r.flatPriceMicros !== null;
  return {
    video_id: r.videoId,
    job_id: r.id,
    key_id: r.keyId,
    key_name: r.keyName,
    kind: r.kind,
    model: r.model,
    size: r.size,
    requested_seconds: r.requestedSeconds,
    seconds: r.status === 'completed' ? (r.billedSeconds ?? 0) : 0,
    pricing: flat ? 'per_request' : 'per_second',
    unit_price_usd: formatUsd(flat ? r.flatPriceMicros! : r.rateMicros),
    amount_usd: formatUsd(r.chargedMicros),
    status: r.status,
    error_code: r.errorCode,
    created_at: isoOrNull(r.createdAt),
    completed_at: isoOrNull(r.completedAt),
    request_id: r.requestId,
    upstream_request_id: r.upstreamRequestId,
    upstream_id: r.upstreamId,
  };
}

/** First characters that make a spreadsheet read a cell as a formula (CSV injection): = + - @ TAB CR. */
const FORMULA_START = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d]);
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV field per RFC 4180: quoted when it holds `"`, `,`, CR or LF, with quotes doubled; null
 * is an empty field. Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR
 * first) is prefixed with `'`. Numbers, amounts and times never start with those characters, so
 * only free text such as a key's name is ever changed.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.has(value.charCodeAt(0)) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A CSV record terminated by CRLF. */
export function csvLine(values: readonly (string | number | null)[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i === 0 ? '' : ',') + csvField(values[i]!);
  return `${line}\r\n`;
}

export interface ExportChunk {
  text: string;
  /** data rows in this chunk (0 for the CSV header and the JSON brackets) */
  rows: number;
}

/** Reads one page of rows strictly after the cursor, oldest first. */
export type ExportPageSource = (after: JobCursor | undefined, limit: number) => Promise<UsageRow[]>;

/**
 * The export as text chunks, one page of rows per chunk. Lazy: a page is read from the database
 * only when the consumer asks for the next chunk.
 */
export async function* exportChunks(fetchPage: ExportPageSource, format: ExportFormat, pageSize = EXPORT_PAGE_SIZE): AsyncGenerator<ExportChunk, void, undefined> {
  if (format === 'csv') yield { text: csvLine(EXPORT_COLUMNS), rows: 0 };
  if (format === 'json') yield { text: '[', rows: 0 };
  let after: JobCursor | undefined;
  let first = true;
  for (;;) {
    const page = await fetchPage(after, pageSize);
    if (page.length === 0) break;
    let text = '';
    for (const r of page) {
      const row = exportRow(r);
      if (format === 'csv') text += csvLine(EXPORT_COLUMNS.map((c) => row[c]));
      else if (format === 'jsonl') text += `${JSON.stringify(row)}\n`;
      else text += `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
      first = false;
    }
    yield { text, rows: page.length };
    if (page.length < pageSize) break;
    const last = page[page.length - 1]!;
    after = { createdAt: last.createdAt, id: last.id };
  }
  if (format === 'json') yield { text: first ? ']\n' : '\n]\n', rows: 0 };
}

export interface ExportEnd {
  bytes: number;
  rows: number;
  outcome: 'done' | 'cancelled' | 'error';
}

/**
 * Wraps the chunks in a pull-based byte stream: the next page is produced only when the
 * consumer has room (high-water mark of one chunk), so a slow client holds back the database
 * reads instead of piling pages up in memory. `onEnd` runs once, when the stream is finished,
 * cancelled by the consumer, or broken by an error.
 */
export function exportStream(chunks: AsyncGenerator<ExportChunk, void, undefined>, onEnd?: (end: ExportEnd) => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let bytes = 0;
  let rows = 0;
  let ended = false;
  let cancelled = false;
  const end = (outcome: ExportEnd['outcome']) => {
    if (ended) return;
    ended = true;
    onEnd?.({ bytes, rows, outcome });
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: IteratorResult<ExportChunk, void>;
        try {
          next = await chunks.next();
        } catch (err) {
          if (cancelled) return;
          end('error');
          controller.error(err);
          return;
        }
        // The consumer cancelled while this page was being read: the stream is closed already.
        if (cancelled) return;
        if (next.done) {
          controller.close();
          end('done');
          return;
        }
        const data = encoder.encode(next.value.text);
        bytes += data.byteLength;
        rows += next.value.rows;
        controller.enqueue(data);
      },
      async cancel() {
        cancelled = true;
        // Queued behind a read in progress, if any; runs the generator's cleanup.
        await chunks.return(undefined);
        end('cancelled');
      },
    },
    { highWaterMark: 1 },
  );
}

/** `2026-11-01` for a midnight, else a compact UTC timestamp safe in file names. */
function fileTime(ms: number): string {
  const text = new Date(ms).toISOString();
  return text.endsWith('T00:00:00.000Z') ? text.slice(0, 10) : text.replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '');
}

/** `reelay-usage-2026-11-01-to-2026-12-01.csv` (`start` / `now` for an open end). */
export function exportFilename(format: ExportFormat, f: { from?: number; to?: number; keyId?: string }): string {
  const key = f.keyId !== undefined && /^[A-Za-z0-9_-]{1,100}$/.test(f.keyId) ? `-${f.keyId}` : '';
  const from = f.from !== undefined ? fileTime(f.from) : 'start';
  const to = f.to !== undefined ? fileTime(f.to) : 'now';
  return `reelay-usage${key}-${from}-to-${to}.${format}`;
}
