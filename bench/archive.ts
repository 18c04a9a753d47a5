/**
 * The archive's scenarios (issue 18), run by `npm run bench` when named with --only (or in a full
 * run): every reelay is its own child process started as the other targets are (bench/targets.ts),
 * against the fast fake upstream, whose `content:<bytes>` jobs complete at once with a body of that
 * many bytes.
 *
 *   archive-download      100 MB download: reelay serving its archive (directory store) vs reelay
 *                         relaying the upstream (a second reelay with ARCHIVE_URL=off) vs the bare proxy
 *   archive-rss           RSS growth of reelay over its settled idle size while it archives a 200 MB
 *                         video: directory store, then S3 store (s3rver started here; 5 MiB parts, queue 1)
 *   archive-slow-readers  200 slow readers (64 KiB/s each) of an archived 100 MB video: RSS growth of
 *                         reelay vs the bare proxy relaying the same bytes from the upstream
 *
 * "Archived" is read from the admin job view (`archive_state: "archived"`), never assumed.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { startS3 } from '../test/helpers/s3.js';
import { createVideo, startBare, startReelayTarget, startUpstream, tempDir, type Child, type Target } from './targets.js';
import type { LoadJob, LoadResult } from './loadgen.js';
import { cpuWindow, rssBytes, rssPeak, settleRss } from './machine.js';
import { fmt, median, NOISY_CORES, type Check } from './report.js';
import { S3_PART_SIZE, S3_QUEUE_SIZE } from '../src/archive/s3-store.js';

export const ARCHIVE_SCENARIOS = ['archive-download', 'archive-rss', 'archive-slow-readers'] as const;

const MB = 1024 * 1024;
const ADMIN = { authorization: 'Bearer bench-admin-token-0123456789' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RSS_SETTLE = { minQuietMs: 10_000, windowMs: 3000, toleranceBytes: 1 * MB, maxMs: 30_000 };
/** As run.ts: 20 s since start-up before the first baseline (V8's memory reducer, see there). */
const RSS_SETTLE_FIRST = { ...RSS_SETTLE, minQuietMs: 20_000 };

export interface ArchiveBenchOptions {
  which: Set<string>;
  quick: boolean;
  rounds: number;
  log: (s: string) => void;
  run: (job: LoadJob) => Promise<LoadResult>;
  loadgenPid: number;
}

/** Polls the job once (reelay settles it: the archive task is written then). */
async function settle(t: Target, id: string): Promise<void> {
  const res = await request(`${t.origin}/v1/videos/${id}`, { headers: t.headers });
  const v = (await res.body.json()) as { status?: string };
  if (v.status !== 'completed') throw new Error(`archive bench: ${id} is ${v.status}, not completed`);
}

async function archiveState(t: Target, id: string): Promise<string | null> {
  const res = await request(`${t.origin}/admin/jobs/${id}`, { headers: ADMIN });
  const text = await res.body.text();
  return /"archive_state":"(\w+)"/.exec(text)?.[1] ?? null;
}

/** Waits until the admin job view says archived; resolves with the milliseconds it took. */
async function waitArchived(t: Target, id: string, maxMs = 180_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const state = await archiveState(t, id);
    if (state === 'archived') return performance.now() - t0;
    if (state === 'failed') throw new Error(`archive bench: archiving ${id} failed (see the reelay log)`);
    if (performance.now() - t0 > maxMs) throw new Error(`archive bench: ${id} not archived after ${maxMs / 1000} s (state ${state})`);
    await sleep(50);
  }
}

async function archiveHit(t: Target, id: string): Promise<string | undefined> {
  const res = await request(`${t.origin}/v1/videos/${id}/content`, { headers: { ...t.headers, range: 'bytes=0-0' } });
  await res.body.dump();
  return res.headers['x-reelay-archive'] as string | undefined;
}

const fileArchive = (name: string) => ({ ARCHIVE_URL: `file:${join(tempDir(`${name}-archive`), 'a')}` });

// --- 1. download ------------------------------------------------------------------------------

async function download(o: ArchiveBenchOptions, upstream: Child): Promise<{ lines: string[]; checks: Check[] }> {
  const BYTES = 100 * MB;
  const up = upstream.message.port as number;
  const started: Target[] = [];
  try {
    const bare = await startBare(up);
    started.push(bare);
    const relay = await startReelayTarget(up, 'reelay-relay', undefined, { ARCHIVE_URL: 'off' });
    started.push(relay);
    const arch = await startReelayTarget(up, 'reelay-archive', undefined, fileArchive('reelay-archive'));
    started.push(arch);
    const archId = await createVideo(arch, `content:${BYTES}`);
    await settle(arch, archId);
    const copyMs = await waitArchived(arch, archId);
    if ((await archiveHit(arch, archId)) !== 'hit') throw new Error('archive bench: /content of an archived job is not x-reelay-archive: hit');
    const relayId = await createVideo(relay, `content:${BYTES}`);
    await settle(relay, relayId);
    if ((await archiveHit(relay, relayId)) === 'hit') throw new Error('archive bench: the relay target served from an archive');
    o.log(`  archived 100 MB in ${fmt(copyMs / 1000, 2)} s (directory store)`);
    const targets = [
      { label: 'bare proxy', t: bare, id: archId },
      { label: 'reelay, relaying the upstream', t: relay, id: relayId },
      { label: 'reelay, from its archive', t: arch, id: archId },
    ];
    const count = o.quick ? 3 : 5;
    const samples = new Map<string, number[]>(targets.map((x) => [x.label, []]));
    let disturbed = 0;
    // Warm-up: one download each (connections, JIT), discarded.
    for (const x of targets) await o.run({ kind: 'download', origin: x.t.origin, request: { method: 'GET', path: `/v1/videos/${x.id}/content`, headers: x.t.headers }, count: 1, expectBytes: BYTES });
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const x = targets[(i + round) % targets.length]!;
        const win = cpuWindow([o.loadgenPid, upstream.pid, ...started.map((t) => t.pid)]);
        const r = await o.run({ kind: 'download', origin: x.t.origin, request: { method: 'GET', path: `/v1/videos/${x.id}/content`, headers: x.t.headers }, count, expectBytes: BYTES });
        const cpu = win.end();
        if (r.kind !== 'download') throw new Error('unexpected result');
        if (r.errors) throw new Error(`archive bench: ${x.label}: ${r.errors} download errors: ${r.firstError}`);
        const s = median(r.seconds);
        if (cpu.foreignCores > NOISY_CORES) disturbed++;
        samples.get(x.label)!.push(s);
        o.log(`  round ${round + 1} ${x.label.padEnd(30)} ${fmt(s, 3)} s (${fmt(BYTES / MB / s)} MB/s)${cpu.foreignCores > NOISY_CORES ? `  ⚠ ${fmt(cpu.foreignCores, 2)} foreign cores` : ''}`);
      }
    }
    const med = (l: string) => median(samples.get(l)!);
    const a = med('reelay, from its archive');
    const rl = med('reelay, relaying the upstream');
    const b = med('bare proxy');
    const lines = [
      `**Download of a 100 MB video** (median of ${o.rounds} interleaved rounds, each the median of ${count} downloads; ${disturbed} of ${o.rounds * 3} samples disturbed by other processes):`,
      '',
      '| | seconds | MB/s | ÷ reelay relaying |',
      '| --- | ---: | ---: | ---: |',
      ...targets.map((x) => `| ${x.label} | ${fmt(med(x.label), 3)} | ${fmt(BYTES / MB / med(x.label))} | ${fmt(med(x.label) / rl, 2)}× |`),
      '',
      `Copying it into the archive took ${fmt(copyMs / 1000, 2)} s (from the poll that settled the job to \`archive_state: "archived"\` in the admin job view).`,
    ];
    const checks: Check[] = [
      { what: 'archive: 100 MB download from the archive vs the upstream relay', target: '≤ 1.0×', actual: `${fmt(a / rl, 2)}×`, met: a / rl <= 1.0, note: `vs the bare proxy: ${fmt(a / b, 2)}×` },
    ];
    return { lines, checks };
  } finally {
    await Promise.all(started.map((t) => t.stop()));
  }
}

// --- 2. RSS while archiving -----------------------------------------------------------------------

async function rssWhileArchiving(o: ArchiveBenchOptions, upstream: Child): Promise<{ lines: string[]; checks: Check[] }> {
  const BYTES = 200 * MB;
  const up = upstream.message.port as number;
  const s3 = await startS3();
  const started: Target[] = [];
  try {
    const dir = await startReelayTarget(up, 'reelay-archive-dir', undefined, fileArchive('reelay-archive-dir'));
    started.push(dir);
    const obj = await startReelayTarget(up, 'reelay-archive-s3', undefined, {
      ARCHIVE_URL: `s3://${s3.bucket}/bench`,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: '1',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    started.push(obj);
    const { waitedMs, settled } = await settleRss([dir.pid, obj.pid], { quietSince: performance.now(), ...RSS_SETTLE_FIRST });
    o.log(`  memory ${settled ? 'settled' : 'still moving'} after ${fmt(waitedMs / 1000, 1)} s of waiting`);
    const rows: string[] = [];
    const checks: Check[] = [];
    for (const [label, t] of [
      ['directory store', dir],
      [`S3 store (s3rver; part size ${S3_PART_SIZE / MB} MiB, queue size ${S3_QUEUE_SIZE})`, obj],
    ] as const) {
      const idle = rssBytes(t.pid);
      const peak = rssPeak(t.pid, 10);
      const win = cpuWindow([o.loadgenPid, upstream.pid, ...started.map((x) => x.pid)]);
      // The create and the poll that settles the job are inside the window: the archive starts then.
      const id = await createVideo(t, `content:${BYTES}`);
      await settle(t, id);
      const ms = await waitArchived(t, id);
      const top = peak.stop();
      const cpu = win.end();
      const growth = (top - idle) / MB;
      o.log(`  ${label}: idle ${fmt(idle / MB, 1)} MB → peak ${fmt(top / MB, 1)} MB (+${fmt(growth, 1)} MB), archived 200 MB in ${fmt(ms / 1000, 2)} s`);
      rows.push(`| ${label} | ${fmt(idle / MB, 1)} | ${fmt(top / MB, 1)} | **${fmt(growth, 1)}** | ${fmt(ms / 1000, 2)}${cpu.foreignCores > NOISY_CORES ? ` ⚠ ${fmt(cpu.foreignCores, 2)} foreign cores` : ''} |`);
      checks.push(
        t === dir
          ? { what: 'archive: RSS growth while archiving 200 MB (directory store)', target: '≤ 64 MB', actual: `${fmt(growth, 1)} MB`, met: growth <= 64 }
          : { what: `archive: RSS growth while archiving 200 MB (S3 store, ${S3_PART_SIZE / MB} MiB parts, queue ${S3_QUEUE_SIZE})`, target: 'report', actual: `${fmt(growth, 1)} MB`, met: null },
      );
    }
    const lines = [
      '**RSS growth while archiving a 200 MB video** (one reelay process per store, its RSS settled first — 20 s quiet since start-up, steady within 1 MB for 3 s; sampled every 10 ms from the create to `archived`):',
      '',
      '| store | idle RSS (MB) | peak RSS (MB) | growth (MB) | copy time (s) |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
    ];
    return { lines, checks };
  } finally {
    await Promise.all(started.map((t) => t.stop()));
    await s3.close();
  }
}

// --- 3. slow readers ----------------------------------------------------------------------------

async function slowReaders(o: ArchiveBenchOptions, upstream: Child): Promise<{ lines: string[]; checks: Check[] }> {
  const BYTES = 100 * MB;
  const CLIENTS = 200;
  const RATE = 64 * 1024;
  const durationMs = o.quick ? 5000 : 10_000;
  const up = upstream.message.port as number;
  const started: Target[] = [];
  try {
    const bare = await startBare(up);
    started.push(bare);
    // MAX_DOWNLOADS_PER_KEY (default 8 concurrent downloads per key) above the readers, so that all
    // 100 are served as by the bare proxy: otherwise 92 of them get a small 429 and the test is not the same.
    const arch = await startReelayTarget(up, 'reelay-archive-slow', undefined, { ...fileArchive('reelay-archive-slow'), MAX_DOWNLOADS_PER_KEY: String(CLIENTS * 2) });
    started.push(arch);
    const id = await createVideo(arch, `content:${BYTES}`);
    await settle(arch, id);
    await waitArchived(arch, id);
    if ((await archiveHit(arch, id)) !== 'hit') throw new Error('archive bench: not served from the archive');
    const targets = [
      { label: 'bare proxy (relaying the upstream)', t: bare },
      { label: 'reelay (from its archive)', t: arch },
    ];
    const { waitedMs, settled } = await settleRss(started.map((t) => t.pid), { quietSince: performance.now(), ...RSS_SETTLE_FIRST });
    o.log(`  memory ${settled ? 'settled' : 'still moving'} after ${fmt(waitedMs / 1000, 1)} s of waiting`);
    const idle = new Map(started.map((t) => [t.pid, rssBytes(t.pid)]));
    const ended = new Map<number, number>();
    const samples = new Map<string, number[]>(targets.map((x) => [x.label, []]));
    const read = new Map<string, number[]>(targets.map((x) => [x.label, []]));
    let disturbed = 0;
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const x = targets[(i + round) % targets.length]!;
        const last = ended.get(x.t.pid);
        if (last !== undefined) await settleRss([x.t.pid], { quietSince: last, ...RSS_SETTLE });
        const peak = rssPeak(x.t.pid, 25);
        const win = cpuWindow([o.loadgenPid, upstream.pid, ...started.map((t) => t.pid)]);
        const r = await o.run({ kind: 'slow', port: x.t.port, request: { method: 'GET', path: `/v1/videos/${id}/content`, headers: x.t.headers }, clients: CLIENTS, bytesPerSecond: RATE, durationMs });
        const top = peak.stop();
        const cpu = win.end();
        ended.set(x.t.pid, performance.now());
        if (r.kind !== 'slow') throw new Error('unexpected result');
        if (cpu.foreignCores > NOISY_CORES) disturbed++;
        const growth = (top - idle.get(x.t.pid)!) / MB;
        samples.get(x.label)!.push(growth);
        read.get(x.label)!.push(r.bytes);
        o.log(`  round ${round + 1} ${x.label.padEnd(36)} +${fmt(growth, 1)} MB (peak ${fmt(top / MB, 1)} MB; clients read ${fmt(r.bytes / MB)} MB${r.errors ? `; ${r.errors} errors: ${r.firstError}` : ''})`);
        await sleep(500);
      }
    }
    const g = (l: string) => median(samples.get(l)!);
    const gb = g(targets[0]!.label);
    const gr = g(targets[1]!.label);
    const lines = [
      `**${CLIENTS} slow readers of an archived 100 MB video** (each reads ${RATE / 1024} KiB/s for ${durationMs / 1000} s; RSS growth over each process's settled size before its first round, median of ${o.rounds} interleaved rounds; ${disturbed} of ${o.rounds * 2} rounds disturbed):`,
      '',
      '| | idle RSS (MB) | growth (MB) | MB read by the clients (median) |',
      '| --- | ---: | ---: | ---: |',
      ...targets.map((x) => `| ${x.label} | ${fmt(idle.get(x.t.pid)! / MB, 1)} | ${fmt(g(x.label), 1)} | ${fmt(median(read.get(x.label)!) / MB)} |`),
    ];
    const ratio = gr / gb;
    const readB = median(read.get(targets[0]!.label)!);
    const readR = median(read.get(targets[1]!.label)!);
    // The same test only if reelay delivered about as much as the bare proxy did.
    const same = readR >= 0.9 * readB;
    const checks: Check[] = [
      { what: `archive: RSS growth, ${CLIENTS} slow readers of an archived video vs bare proxy`, target: '≤ 1.25×', actual: `${fmt(ratio, 2)}× (${fmt(gr, 1)} vs ${fmt(gb, 1)} MB)`, met: same ? ratio <= 1.25 : false, note: same ? undefined : `not the same test: reelay's clients read ${fmt(readR / MB)} MB, the bare proxy's ${fmt(readB / MB)} MB` },
    ];
    return { lines, checks };
  } finally {
    await Promise.all(started.map((t) => t.stop()));
  }
}

/** Runs the selected archive scenarios; returns a markdown section and the checks. */
export async function archiveBench(o: ArchiveBenchOptions): Promise<{ text: string; checks: Check[] }> {
  const parts: string[] = ['## Archive', ''];
  const checks: Check[] = [];
  for (const [id, title, fn] of [
    ['archive-download', '100 MB download: archive vs upstream relay vs bare proxy', download],
    ['archive-rss', 'RSS while archiving 200 MB (directory and S3 stores)', rssWhileArchiving],
    ['archive-slow-readers', '200 slow readers of an archived video', slowReaders],
  ] as const) {
    if (!o.which.has(id)) continue;
    o.log(`${title} …`);
    const upstream = await startUpstream();
    try {
      const r = await fn(o, upstream);
      parts.push(...r.lines, '');
      checks.push(...r.checks);
    } catch (err) {
      o.log(`  ${id} failed: ${(err as Error).message}`);
      parts.push(`**${title}**: failed — ${(err as Error).message}`, '');
      checks.push({ what: `archive: ${id}`, target: '', actual: 'failed', met: false, note: (err as Error).message });
    } finally {
      await upstream.stop();
    }
  }
  return { text: parts.join('\n'), checks };
}
