import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  csvField,
  csvLine,
  EXPORT_COLUMNS,
  exportChunks,
  exportFilename,
  exportRow,
  exportStream,
  type ExportEnd,
  type ExportPageSource,
} from '../../src/admin/export.js';
import { parseIsoTime } from '../../src/admin/input.js';
import type { UsageRow } from '../../src/db/usage-store.js';
import type { JobCursor } from '../../src/db/admin-store.js';

const T0 = Date.UTC(2026, 10, 1);

function row(i: number, over: Partial<UsageRow> = {}): UsageRow {
  return {
    id: `job_${String(i).padStart(4, '0')}`,
    videoId: `video_${i}`,
    keyId: 'key_1',
    keyName: 'team',
    upstreamId: 'default',
    kind: 'create',
    model: 'sora-2',
    size: '720x1280',
    requestedSeconds: 8,
    billedSeconds: 8,
    rateMicros: 100_000,
    flatPriceMicros: null,
    chargedMicros: 800_000,
    status: 'completed',
    errorCode: null,
    requestId: `req_${i}`,
    upstreamRequestId: `up_${i}`,
    createdAt: T0 + i * 1000,
    completedAt: T0 + i * 1000 + 60_000,
    ...over,
  };
}

/** A fake page source over `rows`, recording every call like the keyset query would see it. */
function source(rows: UsageRow[]) {
  const calls: (JobCursor | undefined)[] = [];
  const fetch: ExportPageSource = async (after, limit) => {
    calls.push(after);
    const start = after ? rows.findIndex((r) => r.id === after.id) + 1 : 0;
    return rows.slice(start, start + limit);
  };
  return { fetch, calls };
}

const collect = async <T,>(items: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};

const text = async (chunks: AsyncIterable<{ text: string }>) => (await collect(chunks)).map((c) => c.text).join('');

describe('CSV fields (RFC 4180)', () => {
  it('leaves plain text alone and writes null as an empty field', () => {
    expect(csvField('sora-2')).toBe('sora-2');
    expect(csvField(12)).toBe('12');
    expect(csvField(null)).toBe('');
    expect(csvField('0.400000')).toBe('0.400000');
  });

  it('quotes fields holding a quote, a comma, CR or LF, doubling the quotes', () => {
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('line1\nline2')).toBe('"line1\nline2"');
    expect(csvField('line1\r\nline2')).toBe('"line1\r\nline2"');
  });

  it("neutralises spreadsheet formulas with a leading ' (and still quotes when needed)", () => {
    expect(csvField('=SUM(A1:A9)')).toBe("'=SUM(A1:A9)");
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-1')).toBe("'-1");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField('\rx')).toBe('"\'\rx"');
    expect(csvField('=HYPERLINK("http://x","y")')).toBe('"\'=HYPERLINK(""http://x"",""y"")"');
    expect(csvField(-1)).toBe('-1'); // numbers are never text to neutralise
  });

  it('ends every record with CRLF', () => {
    expect(csvLine(['a', null, 3])).toBe('a,,3\r\n');
  });

  it('round-trips hostile text through a real CSV parser', () => {
    const nasty = ['Acme "Video", Inc.\nPost', 'comma, here', 'CR\ronly', 'plain', '', 'Ünïcödé 名前', '"', ',', 'x\r\ny'];
    const csv = csvLine(nasty) + csvLine(nasty.map((s) => s.toUpperCase()));
    const records = parse(csv, { relax_column_count: false }) as string[][];
    expect(records).toEqual([nasty, nasty.map((s) => s.toUpperCase())]);
  });
});

describe('export rows', () => {
  it('shows a completed per-second job with its rate and its charge', () => {
    expect(exportRow(row(1))).toMatchObject({ seconds: 8, pricing: 'per_second', unit_price_usd: '0.100000', amount_usd: '0.800000', status: 'completed' });
  });

  it('shows the flat price as the unit price of a per-request model', () => {
    expect(exportRow(row(1, { rateMicros: 0, flatPriceMicros: 250_000, chargedMicros: 250_000 }))).toMatchObject({
      pricing: 'per_request',
      unit_price_usd: '0.250000',
      amount_usd: '0.250000',
    });
  });

  it('bills 0 seconds and 0 USD for jobs that did not complete, and keeps jobs without a video id', () => {
    for (const status of ['failed', 'expired', 'unknown', 'queued']) {
      expect(exportRow(row(1, { status, billedSeconds: status === 'queued' ? null : 0, chargedMicros: 0 }))).toMatchObject({ seconds: 0, amount_usd: '0.000000', status });
    }
    const rejected = exportRow(row(2, { status: 'rejected', videoId: null, upstreamRequestId: null, billedSeconds: 0, chargedMicros: 0, completedAt: null }));
    expect(rejected).toMatchObject({ video_id: null, job_id: 'job_0002', completed_at: null, upstream_request_id: null });
  });

  it('has one value per column, times in ISO 8601 UTC', () => {
    const r = exportRow(row(3));
    expect(Object.keys(r)).toEqual([...EXPORT_COLUMNS]);
    expect(r.created_at).toBe('2026-11-01T00:00:03.000Z');
  });
});

describe('export chunks', () => {
  const rows = Array.from({ length: 7 }, (_, i) => row(i));

  it('reads page by page with the last row as the cursor, and stops on a short page', async () => {
    const src = source(rows);
    const chunks = await collect(exportChunks(src.fetch, 'jsonl', 3));
    expect(chunks.map((c) => c.rows)).toEqual([3, 3, 1]);
    expect(src.calls).toEqual([undefined, { createdAt: rows[2]!.createdAt, id: rows[2]!.id }, { createdAt: rows[5]!.createdAt, id: rows[5]!.id }]);
  });

  it('asks once more after a full last page and finds it empty', async () => {
    const src = source(rows.slice(0, 6));
    expect((await collect(exportChunks(src.fetch, 'jsonl', 3))).map((c) => c.rows)).toEqual([3, 3]);
    expect(src.calls).toHaveLength(3);
  });

  it('writes a CSV header, then one CRLF record per job', async () => {
    const csv = await text(exportChunks(source(rows).fetch, 'csv', 3));
    const records = parse(csv, { columns: true }) as Record<string, string>[];
    expect(csv.startsWith(`${EXPORT_COLUMNS.join(',')}\r\n`)).toBe(true);
    expect(csv.split('\r\n')).toHaveLength(rows.length + 2);
    expect(records.map((r) => r.job_id)).toEqual(rows.map((r) => r.id));
  });

  it('writes JSON lines that parse one by one', async () => {
    const lines = (await text(exportChunks(source(rows).fetch, 'jsonl', 3))).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).job_id)).toEqual(rows.map((r) => r.id));
  });

  it('writes counts as JSON numbers, USD amounts as 6-decimal strings, times as ISO strings, absent values as null (as docs/admin.md says)', async () => {
    const open = row(9, { status: 'queued', billedSeconds: null, chargedMicros: 0, completedAt: null, upstreamRequestId: null });
    const [line] = (await text(exportChunks(source([open]).fetch, 'jsonl', 3))).split('\n');
    const parsed = JSON.parse(line!) as Record<string, unknown>;
    const types = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null ? 'null' : typeof v]));
    expect(types).toEqual({
      video_id: 'string', job_id: 'string', key_id: 'string', key_name: 'string', kind: 'string', model: 'string', size: 'string',
      requested_seconds: 'number', seconds: 'number',
      pricing: 'string', unit_price_usd: 'string', amount_usd: 'string', status: 'string',
      error_code: 'null', created_at: 'string', completed_at: 'null', request_id: 'string', upstream_request_id: 'null', upstream_id: 'string',
    });
    expect(parsed).toMatchObject({ requested_seconds: 8, seconds: 0, unit_price_usd: '0.100000', amount_usd: '0.000000', created_at: '2026-11-01T00:00:09.000Z' });
  });

  it('writes a valid JSON array for 0, 1, a page-multiple and any number of rows', async () => {
    for (const n of [0, 1, 3, 7]) {
      const json = JSON.parse(await text(exportChunks(source(rows.slice(0, n)).fetch, 'json', 3))) as { job_id: string }[];
      expect(json.map((r) => r.job_id)).toEqual(rows.slice(0, n).map((r) => r.id));
    }
  });
});

describe('export stream', () => {
  const many = Array.from({ length: 100 * 50 }, (_, i) => row(i));

  it('reads the database only as fast as the consumer takes chunks (backpressure)', async () => {
    const src = source(many);
    let end: ExportEnd | undefined;
    const stream = exportStream(exportChunks(src.fetch, 'csv', 50), (e) => (end = e));
    const reader = stream.getReader();
    await reader.read(); // header
    await reader.read(); // page 1
    await sleep(30); // a stalled client
    expect(src.calls.length).toBeLessThanOrEqual(3); // at most one page read ahead, not all 100
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    expect(src.calls).toHaveLength(101);
    expect(end).toMatchObject({ outcome: 'done', rows: many.length });
    expect(end!.bytes).toBeGreaterThan(bytes);
  });

  it('stops reading the database when the client goes away', async () => {
    const src = source(many);
    let end: ExportEnd | undefined;
    const reader = exportStream(exportChunks(src.fetch, 'jsonl', 50), (e) => (end = e)).getReader();
    await reader.read();
    await reader.cancel();
    const calls = src.calls.length;
    await sleep(10);
    expect(src.calls.length).toBe(calls);
    expect(calls).toBeLessThan(5);
    expect(end).toMatchObject({ outcome: 'cancelled', rows: 50 });
  });

  it('errors the stream (not a truncated 200 that looks complete) when a page cannot be read', async () => {
    let n = 0;
    const failing: ExportPageSource = async (after, limit) => {
      if (++n === 3) throw new Error('disk I/O error');
      return source(many).fetch(after, limit);
    };
    let end: ExportEnd | undefined;
    const reader = exportStream(exportChunks(failing, 'csv', 50), (e) => (end = e)).getReader();
    await expect((async () => {
      for (;;) if ((await reader.read()).done) return;
    })()).rejects.toThrow('disk I/O error');
    expect(end).toMatchObject({ outcome: 'error', rows: 100 });
  });
});

describe('export file names and time bounds', () => {
  it('names the file after the range (dates at midnight, compact timestamps otherwise) and the key', () => {
    expect(exportFilename('csv', {})).toBe('reelay-usage-start-to-now.csv');
    expect(exportFilename('jsonl', { from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 11, 1) })).toBe('reelay-usage-2026-11-01-to-2026-12-01.jsonl');
    expect(exportFilename('csv', { from: Date.UTC(2026, 10, 1, 12, 30), keyId: 'key_ab12' })).toBe('reelay-usage-key_ab12-2026-11-01T123000Z-to-now.csv');
    expect(exportFilename('csv', { keyId: 'evil"\r\nname' })).toBe('reelay-usage-start-to-now.csv');
  });

  it('reads dates as midnight UTC and timestamps without an offset as UTC', () => {
    expect(parseIsoTime('2026-11-01')).toBe(Date.UTC(2026, 10, 1));
    expect(parseIsoTime('2026-11-01T12:30:00Z')).toBe(Date.UTC(2026, 10, 1, 12, 30));
    expect(parseIsoTime('2026-11-01T12:30:00')).toBe(Date.UTC(2026, 10, 1, 12, 30));
    expect(parseIsoTime('2026-11-01T12:30')).toBe(Date.UTC(2026, 10, 1, 12, 30));
    expect(parseIsoTime('2026-11-01T12:30:00.250+02:00')).toBe(Date.UTC(2026, 10, 1, 10, 30, 0, 250));
    expect(parseIsoTime('2026-11-01 12:30:00-0130')).toBe(Date.UTC(2026, 10, 1, 14, 0));
  });

  it('refuses what is not an ISO 8601 date or timestamp, including impossible dates', () => {
    for (const bad of ['', '1', 'yesterday', 'Nov 1 2026', '2026-02-30', '2026-13-01', '2026-11-01T24:00:00Z', '2026-11-01T12:00:00+25:00', '2026-11-1', '20261101']) {
      expect(parseIsoTime(bad), bad).toBeNull();
    }
  });
});
