/**
 * `--only reconciler-scale`: the reconciler with many open jobs (10,000 by default) against an
 * upstream that takes 200 ms per poll (bench/scale-upstream.ts), on one and two reelay instances
 * sharing an embedded PostgreSQL, and on one instance with SQLite for reference.
 *
 * The jobs are written straight into the database as running jobs two hours old (so
 * Settlement.pollIntervalMs schedules each next poll 60 s after the last, its maximum), holding
 * nothing, with next_poll_at spread evenly over the first minute. Every poll the upstream answers
 * brings a new progress, so every poll writes the job. The upstream records when each poll of
 * each video arrived and when its answer left; from those:
 *   - due time of a job's first poll: the next_poll_at seeded; of each later one: the previous
 *     answer's time + 60 s. reelay computes next_poll_at a little after that answer arrives, so
 *     this due time is slightly early and the lag slightly overstated, never understated;
 *   - lag: arrival of the poll − its due time, over every poll due within the measured window; a
 *     poll due in the window that had not arrived when the results were collected (15 s after the
 *     window) counts with the lag it had reached by then;
 *   - double polls: two polls of one job less than 30 s apart (the period is 60 s): must be 0.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { built, startChild, startReelayPgTarget, startReelayTarget, tempDir, type Child, type Target } from './targets.js';
import type { BenchPg } from './pg.js';
import { cpuOf } from './pg.js';
import { cpuWindow } from './machine.js';
import { fmt } from './report.js';

export const SCALE_ID = 'reconciler-scale';

export interface ScaleOptions {
  jobs: number;
  minutes: number;
  pg: BenchPg | null;
  pgError: string | null;
  log: (s: string) => void;
  /** extra environment for the reelay processes (e.g. RECONCILER_CONCURRENCY) */
  env?: Record<string, string>;
}

const PERIOD_MS = 60_000;
const UPSTREAM_DELAY_MS = 200;
/** Seeding ends, reelay is running; the first job falls due this long after. */
const LEAD_MS = 10_000;
const GRACE_MS = 15_000;
const DOUBLE_POLL_MS = PERIOD_MS / 2;
const TARGET_P99_MS = 5000;

interface Config {
  label: string;
  engine: 'postgres' | 'sqlite';
  instances: 1 | 2;
}

interface Outcome {
  config: Config;
  error?: string;
  pollsPerS?: number;
  steadyPollsPerS?: number;
  lag?: { p50: number; p99: number; max: number; counted: number; unpolled: number };
  steadyLag?: { p50: number; p99: number; max: number; counted: number; unpolled: number };
  doublePolls?: number;
  minGapMs?: number;
  reelayCores?: number;
  dbCores?: number;
  foreignCores?: number;
  maxInFlight?: number;
  timeline?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The seeded jobs' video ids and first due times. */
function plan(n: number, firstDue: number): { videoId: string; due: number }[] {
  return Array.from({ length: n }, (_, i) => ({ videoId: `video_scale_${String(i).padStart(6, '0')}`, due: firstDue + Math.floor((i * PERIOD_MS) / n) }));
}

function rowsOf(jobs: { videoId: string; due: number }[], keyId: string, now: number) {
  const createdAt = now - 2 * 3600_000;
  return jobs.map((j, i) => ({
    id: `job_scale_${String(i).padStart(6, '0')}`,
    video_id: j.videoId,
    key_id: keyId,
    kind: 'create',
    model: 'sora-2',
    size: '720x1280',
    requested_seconds: 4,
    status: 'in_progress',
    progress: 0,
    rate_micros: 100_000,
    held_micros: 0,
    charged_micros: 0,
    request_id: `req_scale_${i}`,
    created_at: createdAt,
    updated_at: now,
    next_poll_at: j.due,
  }));
}

async function seedPg(url: string, jobs: { videoId: string; due: number }[], now: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const key = (await client.query('select id from api_keys order by created_at limit 1')).rows[0] as { id: string };
    const rows = rowsOf(jobs, key.id, now);
    for (let i = 0; i < rows.length; i += 2000) {
      const chunk = rows.slice(i, i + 2000);
      const col = <K extends keyof (typeof rows)[number]>(k: K) => chunk.map((r) => r[k]);
      await client.query(
        `insert into jobs (id, video_id, key_id, kind, model, size, requested_seconds, status, progress, rate_micros, held_micros, charged_micros, request_id, created_at, updated_at, next_poll_at)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::int[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::bigint[], $15::bigint[], $16::bigint[])`,
        [col('id'), col('video_id'), col('key_id'), col('kind'), col('model'), col('size'), col('requested_seconds'), col('status'), col('progress'), col('rate_micros'), col('held_micros'), col('charged_micros'), col('request_id'), col('created_at'), col('updated_at'), col('next_poll_at')],
      );
    }
    await client.query('analyze jobs');
  } finally {
    await client.end();
  }
}

function seedSqlite(path: string, jobs: { videoId: string; due: number }[], now: number): void {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    const key = db.prepare('select id from api_keys order by created_at limit 1').get() as { id: string };
    const insert = db.prepare(
      `insert into jobs (id, video_id, key_id, kind, model, size, requested_seconds, status, progress, rate_micros, held_micros, charged_micros, request_id, created_at, updated_at, next_poll_at)
       values (@id, @video_id, @key_id, @kind, @model, @size, @requested_seconds, @status, @progress, @rate_micros, @held_micros, @charged_micros, @request_id, @created_at, @updated_at, @next_poll_at)`,
    );
    db.transaction(() => {
      for (const r of rowsOf(jobs, key.id, now)) insert.run(r);
    }).immediate();
  } finally {
    db.close();
  }
}

function upstreamReport(up: Child): Promise<{ polls: Record<string, number[]>; maxInFlight: number }> {
  return new Promise((resolve) => {
    const on = (msg: { report?: { polls: Record<string, number[]>; maxInFlight: number } }) => {
      if (!msg.report) return;
      up.proc.off('message', on);
      resolve(msg.report);
    };
    up.proc.on('message', on);
    up.proc.send({ cmd: 'report' });
  });
}

function lagStats(lags: number[], unpolled: number) {
  const s = [...lags].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1]! : NaN, counted: s.length, unpolled };
}

async function runConfig(c: Config, o: ScaleOptions): Promise<Outcome> {
  const up = await startChild('scale-upstream', built('bench/scale-upstream.js'), { DELAY_MS: String(UPSTREAM_DELAY_MS) });
  let target: Target | null = null;
  try {
    const port = up.message.port as number;
    let url: string;
    if (c.engine === 'postgres') {
      url = await o.pg!.createDatabase(`bench_scale_${c.instances}`);
      target = await startReelayPgTarget(port, url, c.instances, o.env);
    } else {
      url = join(tempDir('scale-sqlite'), 'reelay.db');
      target = await startReelayTarget(port, 'reelay-scale', undefined, { DATABASE_URL: url, ...o.env });
    }
    const now = Date.now();
    const t0 = now + LEAD_MS;
    const jobs = plan(o.jobs, t0);
    if (c.engine === 'postgres') await seedPg(url, jobs, now);
    else seedSqlite(url, jobs, now);
    o.log(`  ${c.label}: ${o.jobs} jobs seeded in ${fmt((Date.now() - now) / 1000, 1)} s; measuring ${o.minutes} min …`);
    await sleep(Math.max(0, t0 - Date.now()));
    const reelayPids = target.pids ?? [target.pid];
    const dbPids = c.engine === 'postgres' ? o.pg!.pids() : [];
    const r0 = cpuOf(reelayPids);
    const d0 = cpuOf(dbPids);
    const win = cpuWindow([...reelayPids, ...dbPids, up.pid]);
    const tEnd = t0 + o.minutes * 60_000;
    await sleep(tEnd - Date.now());
    const wallS = (Date.now() - t0) / 1000;
    const reelayCores = (cpuOf(reelayPids) - r0) / 100 / wallS;
    const dbCores = (cpuOf(dbPids) - d0) / 100 / wallS;
    const foreignCores = win.end().foreignCores;
    await sleep(GRACE_MS);
    const collectedAt = Date.now();
    const report = await upstreamReport(up);

    const lags: { due: number; lag: number; unpolled: boolean }[] = [];
    let doublePolls = 0;
    let minGapMs = Infinity;
    let polls = 0;
    let steadyPolls = 0;
    for (const j of jobs) {
      const t = report.polls[j.videoId] ?? [];
      const m = t.length / 2;
      for (let k = 0; k < m; k++) {
        const at = t[2 * k]!;
        if (at < t0 || at >= tEnd) continue;
        polls++;
        if (at >= t0 + PERIOD_MS) steadyPolls++;
      }
      for (let k = 1; k < m; k++) {
        const gap = t[2 * k]! - t[2 * (k - 1)]!;
        minGapMs = Math.min(minGapMs, gap);
        if (gap < DOUBLE_POLL_MS) doublePolls++;
      }
      // due of poll k: seeded for the first, the previous answer + the period after
      for (let k = 0; k <= m; k++) {
        // A poll still in flight when the results were taken has no answer time (NaN, which
        // arrives as null over IPC): the due time of the next one is not known yet.
        const answered = k === 0 ? j.due : t[2 * k - 1];
        if (typeof answered !== 'number' || !Number.isFinite(answered)) break;
        const due = k === 0 ? j.due : answered + PERIOD_MS;
        if (due > tEnd) break;
        if (k < m) lags.push({ due, lag: t[2 * k]! - due, unpolled: false });
        else lags.push({ due, lag: collectedAt - due, unpolled: true });
      }
    }
    const steady = lags.filter((l) => l.due >= t0 + PERIOD_MS);
    // p50/p99 of the lag by due time, per 30 s, for the log and the report's details
    const buckets: string[] = [];
    for (let from = t0; from < tEnd; from += 30_000) {
      const ls = lags.filter((l) => l.due >= from && l.due < from + 30_000).map((l) => l.lag);
      const s = lagStats(ls, 0);
      buckets.push(`${(from - t0) / 1000}s: ${fmt(s.p50 / 1000, 1)}/${fmt(s.p99 / 1000, 1)}`);
    }
    return {
      config: c,
      pollsPerS: polls / ((tEnd - t0) / 1000),
      steadyPollsPerS: steadyPolls / ((tEnd - t0 - PERIOD_MS) / 1000),
      lag: lagStats(lags.map((l) => l.lag), lags.filter((l) => l.unpolled).length),
      steadyLag: lagStats(steady.map((l) => l.lag), steady.filter((l) => l.unpolled).length),
      doublePolls,
      minGapMs,
      reelayCores,
      dbCores,
      foreignCores,
      maxInFlight: report.maxInFlight,
      timeline: buckets.join(', '),
    };
  } catch (err) {
    return { config: c, error: (err as Error).message };
  } finally {
    await target?.stop();
    await up.stop();
  }
}

/** Runs the configurations in turn; returns the report's section (markdown). */
export async function reconcilerScale(o: ScaleOptions): Promise<string> {
  const configs: Config[] = [
    { label: 'reelay (PostgreSQL)', engine: 'postgres', instances: 1 },
    { label: '2 × reelay (PostgreSQL)', engine: 'postgres', instances: 2 },
    { label: 'reelay (SQLite)', engine: 'sqlite', instances: 1 },
  ];
  const outcomes: Outcome[] = [];
  o.log(`Reconciler at scale: ${o.jobs} open jobs, upstream answers in ${UPSTREAM_DELAY_MS} ms, each job due every ${PERIOD_MS / 1000} s …`);
  for (const c of configs) {
    if (c.engine === 'postgres' && !o.pg) {
      outcomes.push({ config: c, error: o.pgError ?? 'no PostgreSQL' });
      continue;
    }
    const r = await runConfig(c, o);
    outcomes.push(r);
    if (r.error) o.log(`  ${c.label}: failed: ${r.error}`);
    else
      o.log(
        `  ${c.label}: ${fmt(r.pollsPerS!, 1)} polls/s (${fmt(r.steadyPollsPerS!, 1)} after the first minute), lag p50 ${fmt(r.lag!.p50 / 1000, 2)} s p99 ${fmt(r.lag!.p99 / 1000, 2)} s max ${fmt(r.lag!.max / 1000, 2)} s, ${r.lag!.unpolled} due and not polled, ${r.doublePolls} double polls; CPU reelay ${fmt(r.reelayCores!, 2)} PostgreSQL ${fmt(r.dbCores!, 2)} foreign ${fmt(r.foreignCores!, 2)} cores\n    lag p50/p99 (s) by due time: ${r.timeline}`,
      );
  }
  const s = (ms: number | undefined) => (ms === undefined ? '–' : fmt(ms / 1000, 2));
  const lines = [
    `Reconciler at scale (\`--only ${SCALE_ID}\`): ${fmt(o.jobs)} open jobs seeded as running, each due once a minute (first due spread over the first minute), an upstream that answers every poll in ${UPSTREAM_DELAY_MS} ms with new progress (so every poll writes), ${o.minutes} min measured per configuration${o.env && Object.keys(o.env).length ? `, ${Object.entries(o.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}. Lag = a poll's arrival at the upstream − its due time (overstated by the few ms between the previous answer and reelay's write of next_poll_at); due and not polled by ${GRACE_MS / 1000} s after the window counts with the lag reached then. Needed: ${fmt(o.jobs / (PERIOD_MS / 1000))} polls/s.`,
    '',
    '| configuration | polls/s (whole window / after the first minute) | lag p50 (s) | lag p99 (s) | lag max (s) | p99 after the first minute (s) | polls due | due, not polled | double polls | CPU cores: reelay / PostgreSQL / foreign |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of outcomes) {
    if (r.error) {
      lines.push(`| ${r.config.label} | ${r.error} | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.config.label} | ${fmt(r.pollsPerS!, 1)} / ${fmt(r.steadyPollsPerS!, 1)} | ${s(r.lag!.p50)} | ${s(r.lag!.p99)} | ${s(r.lag!.max)} | ${s(r.steadyLag!.p99)} | ${fmt(r.lag!.counted)} | ${fmt(r.lag!.unpolled)} | ${r.doublePolls} | ${fmt(r.reelayCores!, 2)} / ${r.config.engine === 'postgres' ? fmt(r.dbCores!, 2) : '–'} / ${fmt(r.foreignCores!, 2)} |`,
    );
  }
  lines.push('');
  for (const r of outcomes) {
    if (r.error) continue;
    const met = r.lag!.p99 <= TARGET_P99_MS && r.doublePolls === 0;
    lines.push(`- ${r.config.label}: p99 lag ≤ ${TARGET_P99_MS / 1000} s and no double polls: ${met ? 'met' : '**missed**'} (upstream polls in flight at most ${r.maxInFlight}; lag p50/p99 in s by due time, per 30 s: ${r.timeline})`);
  }
  return lines.join('\n');
}
