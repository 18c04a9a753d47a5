import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse';
import { createHash } from 'node:crypto';
import { adminHarness, seedKey, type AdminHarness } from './admin-fixtures.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { fullGc } from '../helpers/gc.js';
import { quote, isPriceError } from '../../src/billing/catalog.js';
import { parseUsd } from '../../src/money.js';
import type { KeyRow } from '../../src/db/keys-store.js';

/**
 * The billing export over 100,000 jobs: every row is there, the amounts add up to the ledger's
 * captures to the micro-dollar, the CSV survives a real parser with hostile key names, and the
 * export streams (memory stays flat while a slow client reads it).
 */
const N = 100_000;
const BASE = Date.UTC(2026, 10, 1);

const NAMES = [
  'Acme "Video", Inc.\nPost-production',
  'plain',
  'comma, separated, name',
  '=HYPERLINK("http://x","click")',
  'Ünïcödé 名前 "quoted"',
  'line\r\nbreak',
];

let h: AdminHarness;
let keys: KeyRow[];
let seedMs = 0;
let seedCpuMs = 0;
let firstCsvSha = '';
// About 10 s of CPU in all; the generous limits are for a machine busy with other test files.
const SLOW = 120_000;

/**
 * Bulk seed in one transaction with raw SQL (the real store would take minutes). The rows follow
 * the store's own rules exactly: a hold entry per job, a capture (+ release of the remainder) for
 * completed jobs, a terminal release for failed/rejected/expired/unknown ones, nothing more for
 * open ones; the keys' balance and held columns are updated from the same numbers.
 */
function bulkSeed(): void {
  const sqlite = h.deps.database.sqlite;
  const insertJob = sqlite.prepare(`insert into jobs (id, video_id, key_id, kind, model, size, requested_seconds, billed_seconds, status,
      rate_micros, flat_price_micros, held_micros, charged_micros, request_id, upstream_request_id, error_code, created_at, updated_at, completed_at, settled_at)
    values (@id, @videoId, @keyId, 'create', @model, @size, @seconds, @billed, @status, @rate, @flat, @held, @charged, @requestId, @upstreamRequestId, @errorCode, @createdAt, @createdAt, @completedAt, @settledAt)`);
  const insertEntry = sqlite.prepare(`insert into ledger (id, kind, amount_micros, key_id, job_id, terminal, request_id, actor, note, created_at)
    values (@id, @kind, @amount, @keyId, @jobId, @terminal, @requestId, 'test', null, @at)`);
  const updateKey = sqlite.prepare('update api_keys set balance_micros = balance_micros - @captured, held_micros = held_micros + @held where id = @id');
  const models = [
    { model: 'sora-2', size: '1280x720' },
    { model: 'sora-2-pro', size: '1792x1024' },
    { model: 'flat-1', size: '720x1280' },
  ];
  const quotes = models.flatMap(({ model, size }) =>
    [4, 8].map((seconds) => {
      const q = quote(h.deps.catalog, { model, size, seconds });
      if (isPriceError(q)) throw new Error(q.message);
      return q;
    }),
  );
  let led = 0;
  const perKey = new Map(keys.map((k) => [k.id, { captured: 0, held: 0 }]));
  sqlite.transaction(() => {
    for (let i = 0; i < N; i++) {
      const key = keys[i % keys.length]!;
      const q = quotes[i % quotes.length]!;
      const createdAt = BASE + Math.floor(i / 4) * 1000; // ties of four on created_at
      const slot = i % 20;
      const status =
        slot < 12 ? 'completed' : slot < 14 ? 'failed' : slot === 14 ? 'rejected' : slot === 15 ? 'expired' : slot === 16 ? 'unknown' : slot === 17 ? 'in_progress' : 'queued';
      const open = status === 'queued' || status === 'in_progress';
      // Some completed videos come out a second shorter than requested: billed by the second.
      const billed = status === 'completed' ? q.seconds - (i % 3 === 0 ? 1 : 0) : open ? null : 0;
      const charged = status === 'completed' ? Math.min(q.priceMicros, q.flatMicros ?? billed! * q.rateMicros) : 0;
      const id = `job_${String(i).padStart(8, '0')}`;
      const settledAt = open ? null : createdAt + 60_000;
      insertJob.run({
        id,
        videoId: status === 'rejected' ? null : `video_${String(i).padStart(8, '0')}`,
        keyId: key.id,
        model: q.model,
        size: q.size,
        seconds: q.seconds,
        billed,
        status,
        rate: q.rateMicros,
        flat: q.flatMicros,
        held: q.priceMicros,
        charged,
        requestId: `req_${i}`,
        upstreamRequestId: status === 'rejected' ? null : `up_${i}`,
        errorCode: status === 'failed' ? 'content_policy' : null,
        createdAt,
        completedAt: status === 'completed' || status === 'failed' ? createdAt + 60_000 : null,
        settledAt,
      });
      const entry = (kind: string, amount: number, terminal: boolean, at: number) =>
        insertEntry.run({ id: `led_${String(++led).padStart(8, '0')}`, kind, amount, keyId: key.id, jobId: id, terminal: terminal ? 1 : 0, requestId: `req_${i}`, at });
      entry('hold', q.priceMicros, false, createdAt);
      const k = perKey.get(key.id)!;
      if (open) {
        k.held += q.priceMicros;
      } else if (charged > 0) {
        entry('capture', charged, true, settledAt!);
        if (q.priceMicros > charged) entry('release', q.priceMicros - charged, false, settledAt!);
        k.captured += charged;
      } else {
        entry('release', q.priceMicros, true, settledAt!);
      }
    }
    for (const [id, k] of perKey) updateKey.run({ id, ...k });
  })();
}

beforeAll(async () => {
  h = adminHarness({ flatModel: true });
  keys = [];
  for (const name of NAMES) keys.push(await seedKey(h.deps, name, '1000000.00'));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  bulkSeed();
  seedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  seedCpuMs = (cpu.user + cpu.system) / 1000;
}, SLOW);
afterAll(() => h.close());

describe('usage export of 100,000 jobs', () => {
  it('seeds a consistent ledger (the invariants hold before anything is exported)', async () => {
    expect(await ledgerViolations(h.deps.store)).toEqual([]);
    expect((h.deps.database.sqlite.prepare('select count(*) as n from jobs').get() as { n: number }).n).toBe(N);
  }, SLOW);

  it('streams every job once, totals equal the ledger captures to the micro-dollar, and memory stays flat', async () => {
    const sqlite = h.deps.database.sqlite;
    const captured = (sqlite.prepare("select sum(amount_micros) as s from ledger where kind = 'capture'").get() as { s: number }).s;
    const nameById = new Map(keys.map((k) => [k.id, k.name]));
    const gc = fullGc();
    gc?.();
    const baseline = process.memoryUsage().heapUsed;

    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let bytes = 0;
    const sha = createHash('sha256');
    const res = await h.call('/admin/usage/export?format=csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="reelay-usage-start-to-now.csv"');

    let rows = 0;
    let total = 0;
    let lastJob = ''; // job ids strictly increase: no row twice (and no Set of 100,000 ids skewing the heap)
    const statuses: Record<string, number> = {};
    const problems: string[] = []; // collected, not asserted per row: 100,000 expect() calls are slow
    const parser = parse({ columns: true });
    parser.on('data', (r: Record<string, string>) => {
      rows++;
      total += parseUsd(r.amount_usd!);
      if (!(r.job_id! > lastJob)) problems.push(`${r.job_id} out of order`); // oldest first, ties broken by id
      lastJob = r.job_id!;
      statuses[r.status!] = (statuses[r.status!] ?? 0) + 1;
      const name = nameById.get(r.key_id!)!;
      if (r.key_name !== (name.startsWith('=') ? `'${name}` : name)) problems.push(`${r.job_id}: key_name ${JSON.stringify(r.key_name)}`);
      if (r.status !== 'completed' && (r.seconds !== '0' || r.amount_usd !== '0.000000')) problems.push(`${r.job_id}: ${r.status} but billed`);
    });
    const parsed = new Promise<void>((resolve, reject) => {
      parser.on('end', resolve);
      parser.on('error', reject);
    });

    // Retained memory (after a full GC) while the response is open: nothing read yet, then every
    // 10 chunks. A route that built the export before answering would hold all of it here.
    let retainedPeak = 0;
    const sampleRetained = () => {
      if (!gc) return;
      gc();
      retainedPeak = Math.max(retainedPeak, process.memoryUsage().heapUsed - baseline);
    };
    sampleRetained();
    let peak = 0;
    let chunks = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      bytes += value.byteLength;
      sha.update(value);
      parser.write(value);
      peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      if (chunks % 10 === 0) sampleRetained();
      await sleep(1); // a slow client: the server must wait for it, not read ahead
    }
    parser.end();
    await parsed;
    const elapsed = performance.now() - started;
    const cpu = process.cpuUsage(cpuStart);
    firstCsvSha = sha.digest('hex');

    expect(problems.slice(0, 5)).toEqual([]);
    expect(rows).toBe(N);
    expect(total).toBe(captured);
    expect(statuses).toEqual({ completed: 60_000, failed: 10_000, rejected: 5_000, expired: 5_000, unknown: 5_000, in_progress: 5_000, queued: 10_000 });
    const MB = 1024 * 1024;
    console.log(
      `[usage export] ${N} jobs seeded in ${Math.round(seedMs)} ms (${Math.round(seedCpuMs)} ms CPU); CSV export (${(bytes / MB).toFixed(1)} MB) streamed and parsed in ${Math.round(elapsed)} ms ` +
        `(${Math.round((cpu.user + cpu.system) / 1000)} ms CPU incl. csv-parse; ${chunks} chunks, 1 ms pause each); ` +
        `peak heap growth ${(peak / MB).toFixed(1)} MB` + (gc ? `, retained after GC ${(retainedPeak / MB).toFixed(1)} MB` : ' (gc unavailable)'),
    );
    expect(peak).toBeLessThan(60 * MB);
    // The CSV alone is ~20 MB and the rows as objects several times that; streaming holds one page.
    if (gc) expect(retainedPeak).toBeLessThan(8 * MB);
  }, SLOW);

  it('gives the same bytes when exported again at full speed (the figure without the test\'s CSV parsing)', async () => {
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    const res = await h.call('/admin/usage/export');
    const sha = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body!) {
      bytes += chunk.byteLength;
      sha.update(chunk);
    }
    const cpu = process.cpuUsage(cpuStart);
    console.log(`[usage export] server side alone: ${N} rows, ${(bytes / 1024 / 1024).toFixed(1)} MB of CSV in ${Math.round(performance.now() - started)} ms (${Math.round((cpu.user + cpu.system) / 1000)} ms CPU)`);
    expect(sha.digest('hex')).toBe(firstCsvSha);
  }, SLOW);

  it('exports the same rows as JSON lines, filtered by key, with the key\'s share of the captures', async () => {
    const key = keys[0]!;
    const res = await h.call(`/admin/usage/export?format=jsonl&key_id=${key.id}`);
    expect(res.headers.get('content-type')).toBe('application/jsonl; charset=utf-8');
    const lines = (await res.text()).trimEnd().split('\n');
    const expected = Math.ceil(N / keys.length);
    expect(lines).toHaveLength(expected);
    const sum = lines.reduce((s, l) => s + parseUsd((JSON.parse(l) as { amount_usd: string }).amount_usd), 0);
    const captured = (
      h.deps.database.sqlite.prepare("select sum(amount_micros) as s from ledger where kind = 'capture' and key_id = ?").get(key.id) as { s: number }
    ).s;
    expect(sum).toBe(captured);
  }, SLOW);
});
