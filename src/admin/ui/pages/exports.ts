import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { EXPORT_CONTENT_TYPES, EXPORT_PAGE_SIZE, csvLine, exportChunks, exportFilename, exportStream, type ExportChunk, type ExportFormat } from '../../export.js';
import { formatUsd } from '../../../money.js';
import { field } from '../format.js';
import type { UiEnv, UiContext } from '../context.js';
import { readRange } from '../range.js';

const LEDGER_COLUMNS = ['id', 'created_at', 'kind', 'amount_usd', 'key_id', 'job_id', 'video_id', 'request_id', 'actor', 'note'] as const;

function download(c: UiContext, body: ReadableStream<Uint8Array>, contentType: string, filename: string): Response {
  c.header('content-type', contentType);
  c.header('content-disposition', `attachment; filename="${filename}"`);
  return c.body(body);
}

function filters(c: UiContext): { ok: true; from?: number; to?: number; keyId?: string } | { ok: false; error: string } {
  const range = readRange({ from: field(c.req.query('from'), 40), to: field(c.req.query('to'), 40) });
  if (range.error) return { ok: false, error: range.error };
  const keyId = field(c.req.query('key_id')) || undefined;
  return { ok: true, from: range.from, to: range.to, keyId };
}

/** Ledger entries oldest first, one page per chunk (same streaming as the usage export). */
async function* ledgerChunks(deps: Deps, f: { from?: number; to?: number; keyId?: string; jobId?: string }): AsyncGenerator<ExportChunk, void, undefined> {
  yield { text: csvLine(LEDGER_COLUMNS), rows: 0 };
  let afterSeq: number | undefined;
  for (;;) {
    const page = await deps.store.listAdminLedger({ ...f, afterSeq, order: 'asc', limit: EXPORT_PAGE_SIZE });
    if (page.length === 0) return;
    let text = '';
    for (const e of page) {
      text += csvLine([e.id, new Date(e.createdAt).toISOString(), e.kind, formatUsd(e.amountMicros), e.keyId, e.jobId, e.videoId, e.requestId, e.actor, e.note]);
    }
    yield { text, rows: page.length };
    if (page.length < EXPORT_PAGE_SIZE) return;
    afterSeq = page[page.length - 1]!.seq;
  }
}

/**
 * Cookie-authenticated downloads: the usage export of the admin API's export module (which needs
 * a bearer token at /admin/usage/export) and a ledger CSV.
 */
export function registerExports(app: Hono<UiEnv>, deps: Deps): void {
  const usage = (format: ExportFormat) => (c: UiContext) => {
    const f = filters(c);
    if (!f.ok) return c.text(f.error, 400);
    const where = { from: f.from, to: f.to, keyId: f.keyId };
    const chunks = exportChunks((after, limit) => deps.store.usageExportPage(where, after, limit), format);
    return download(c, exportStream(chunks), EXPORT_CONTENT_TYPES[format], exportFilename(format, where));
  };
  app.get('/export.csv', usage('csv'));
  app.get('/export.jsonl', usage('jsonl'));

  app.get('/ledger.csv', (c) => {
    const f = filters(c);
    if (!f.ok) return c.text(f.error, 400);
    const jobId = field(c.req.query('job_id')) || undefined;
    const name = exportFilename('csv', f).replace(/^reelay-usage/, 'reelay-ledger');
    return download(c, exportStream(ledgerChunks(deps, { from: f.from, to: f.to, keyId: f.keyId, jobId })), EXPORT_CONTENT_TYPES.csv, name);
  });
}
