/** Medians, ratios and the markdown report. */
import type { TargetId } from './targets.js';
import { TARGET_LABELS } from './targets.js';

export interface Sample {
  value: number;
  /** other processes' CPU during the sample, in cores */
  foreign: number;
  /** the target process's own CPU during the sample, in cores (throughput scenarios) */
  targetCpu?: number;
  /** the PostgreSQL server's CPU during the sample, in cores (PostgreSQL targets) */
  dbCpu?: number;
  errors: number;
  firstError?: string | null;
  detail?: string;
  /** how many times the sample was measured (more than once when the first ones were disturbed) */
  attempts?: number;
}

/** What a scenario is: shared by its definition (bench/run.ts) and its result. */
export interface ScenarioInfo {
  id: string;
  title: string;
  measure: string;
  unit: string;
  better: 'higher' | 'lower';
  digits: number;
  targets: TargetId[];
}

export interface ScenarioResult extends ScenarioInfo {
  samples: Map<TargetId, Sample[]>;
  skipped: Map<TargetId, string>;
}

export interface Check {
  what: string;
  target: string;
  actual: string;
  met: boolean | null;
  note?: string;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function med(r: ScenarioResult | undefined, t: TargetId): number {
  return median((r?.samples.get(t) ?? []).map((s) => s.value));
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * Other processes' CPU (in cores, averaged over a sample) above which a sample counts as disturbed.
 * A tenth of a core: in a seven-round run of 2026-11-22 reelay's finished-poll round at 0.23
 * foreign cores (steal time) made 5,934 req/s against 8,775–10,005 in its rounds at 0.00–0.06;
 * in a full run that day two rounds at 0.16 and 0.22 set the median.
 */
export const NOISY_CORES = 0.1;

function cell(r: ScenarioResult, t: TargetId): string {
  if (r.skipped.has(t)) return 'n/a';
  const samples = r.samples.get(t) ?? [];
  if (samples.length === 0) return '–';
  const noisy = samples.some((s) => s.foreign > NOISY_CORES) ? ' ⚠' : '';
  const errs = samples.some((s) => s.errors > 0) ? ' ✗' : '';
  return `${fmt(median(samples.map((s) => s.value)), r.digits)}${noisy}${errs}`;
}

/** reelay relative to the bare proxy, as "how many times as good" (>1 is better for reelay). */
function versusBare(r: ScenarioResult): string {
  const a = med(r, 'reelay');
  const b = med(r, 'bare');
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return '–';
  if (r.unit === 'ms' && r.id === 'latency') return `+${fmt(a - med(r, 'direct'), 2)} ms vs direct`;
  return `${fmt(a / b, 2)}×`;
}

/**
 * The target process's own CPU time per request (µs), the median over rounds: CPU cores used
 * during the round ÷ requests/s. Throughput scenarios only.
 */
export function cpuPerRequest(r: ScenarioResult, t: TargetId, withDb = false): number {
  const xs = (r.samples.get(t) ?? [])
    .filter((s) => s.targetCpu !== undefined && s.value > 0)
    .map((s) => ((s.targetCpu! + (withDb ? (s.dbCpu ?? 0) : 0)) * 1e6) / s.value);
  return median(xs);
}

/**
 * PostgreSQL beside SQLite: requests/s and CPU per request of one and two reelay instances on one
 * PostgreSQL database against reelay on SQLite, all from the same run. On PostgreSQL part of the
 * work moves into the database server's processes, so CPU per request is shown both for reelay's
 * own processes and with the server's CPU added.
 */
function pgTable(results: ScenarioResult[]): string[] {
  const rows = results.filter((r) => r.unit === 'req/s' && r.samples.has('reelay') && (r.samples.has('reelay-pg') || r.samples.has('reelay-pg2')));
  if (rows.length === 0) return [];
  const lines = [
    'PostgreSQL beside SQLite (requests/s, medians; CPU µs per request: reelay\'s own processes / with the PostgreSQL server\'s CPU added):',
    '',
    '| scenario | reelay (SQLite) | reelay (PostgreSQL) | 2 × reelay (PostgreSQL) | PostgreSQL ÷ SQLite | 2 × ÷ 1 × | CPU µs/req SQLite | CPU µs/req PostgreSQL | CPU µs/req 2 × PostgreSQL |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const sq = med(r, 'reelay');
    const p1 = med(r, 'reelay-pg');
    const p2 = med(r, 'reelay-pg2');
    const cpu = (t: TargetId) => (r.samples.has(t) ? `${fmt(cpuPerRequest(r, t))} / ${fmt(cpuPerRequest(r, t, true))}` : '–');
    lines.push(
      `| ${r.title} | ${cell(r, 'reelay')} | ${cell(r, 'reelay-pg')} | ${cell(r, 'reelay-pg2')} | ${fmt(p1 / sq, 2)}× | ${fmt(p2 / p1, 2)}× | ${fmt(cpuPerRequest(r, 'reelay'))} | ${cpu('reelay-pg')} | ${cpu('reelay-pg2')} |`,
    );
  }
  lines.push('');
  return lines;
}

/**
 * Requests/s ratios hold only while every target gets a whole core; when other processes take CPU
 * from the machine they move by tens of percent. CPU time per request moves much less, so it is
 * reported beside them: bare ÷ reelay is the throughput ratio each would reach on a core of its own.
 */
function cpuTable(results: ScenarioResult[], compare: boolean): string[] {
  const rows = results.filter((r) => r.unit === 'req/s' && r.targets.includes('bare') && r.targets.includes('reelay'));
  if (rows.length === 0) return [];
  const lines = [
    'CPU time per request, the target process\'s own (µs; median over rounds of its CPU use ÷ its requests/s):',
    '',
    `| scenario | bare proxy | reelay |${compare ? ' reelay (--compare) |' : ''} bare ÷ reelay |`,
    `| --- | ---: | ---: |${compare ? ' ---: |' : ''} ---: |`,
  ];
  for (const r of rows) {
    const bare = cpuPerRequest(r, 'bare');
    const reelay = cpuPerRequest(r, 'reelay');
    const other = compare ? ` ${fmt(cpuPerRequest(r, 'compare'))} |` : '';
    lines.push(`| ${r.title} | ${fmt(bare)} | ${fmt(reelay)} |${other} ${fmt(bare / reelay, 2)}× |`);
  }
  lines.push('');
  return lines;
}

/** How many samples had to be measured again because other processes disturbed them. */
export function retriesLine(retries: number, results: ScenarioResult[]): string {
  if (retries === 0) return 'Disturbed samples were not measured again (--retries 0).';
  const samples = results.flatMap((r) => [...r.samples.values()].flat());
  const again = samples.filter((s) => (s.attempts ?? 1) > 1);
  const still = again.filter((s) => s.foreign > NOISY_CORES).length;
  return (
    `A time or throughput sample taken while other processes used more than ${NOISY_CORES} of a core was measured again, up to ${retries} more times, and the least disturbed measurement kept: ` +
    `${again.length} of ${samples.length} samples were measured again${again.length ? `, ${still} of them stayed disturbed (⚠)` : ''}.`
  );
}

export interface ReportHeader {
  command: string;
  startedAt: Date;
  seconds: number;
  machine: string;
  rounds: number;
  busyNote: string | null;
  portkeyNote: string | null;
  /** how many times a disturbed sample was measured again at most (--retries) */
  retries: number;
  /** which PostgreSQL server and settings the PostgreSQL targets used, or why they did not run */
  pgNote?: string | null;
}

export function markdown(h: ReportHeader, results: ScenarioResult[], idle: string, checks: Check[], scale: string | null = null): string {
  const all: TargetId[] = ['direct', 'bare', 'reelay', 'compare', 'portkey', 'reelay-pg', 'reelay-pg2', 'reelay-3up'];
  const used = all.filter((t) => results.some((r) => r.targets.includes(t)));
  const lines: string[] = [];
  lines.push(`Command: \`${h.command}\` — ${h.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round(h.seconds)} s`);
  lines.push(`Machine: ${h.machine}. Loopback only. ${h.rounds} interleaved rounds per scenario; medians shown.`);
  if (h.busyNote) lines.push(`**${h.busyNote}**`);
  lines.push(retriesLine(h.retries, results));
  lines.push('');
  const compare = used.includes('compare');
  lines.push(`| scenario | measure | ${used.map((t) => TARGET_LABELS[t]).join(' | ')} | reelay ÷ bare |${compare ? ' reelay ÷ compare |' : ''}`);
  lines.push(`| --- | --- | ${used.map(() => '---:').join(' | ')} | ---: |${compare ? ' ---: |' : ''}`);
  for (const r of results) {
    const vsCompare = compare ? ` ${fmt(med(r, 'reelay') / med(r, 'compare'), 2)}× |` : '';
    lines.push(`| ${r.title} | ${r.measure} | ${used.map((t) => (r.targets.includes(t) ? cell(r, t) : '')).join(' | ')} | ${versusBare(r)} |${vsCompare}`);
  }
  lines.push('');
  lines.push(...cpuTable(results, compare));
  lines.push(...pgTable(results));
  if (scale) lines.push(scale, '');
  lines.push(idle);
  lines.push('');
  lines.push('| target | goal | this run | |');
  lines.push('| --- | --- | --- | --- |');
  for (const c of checks) lines.push(`| ${c.what} | ${c.target} | ${c.actual}${c.note ? ` (${c.note})` : ''} | ${c.met === null ? '–' : c.met ? 'met' : '**missed**'} |`);
  lines.push('');
  lines.push(`⚠ = some round ran while other processes used more than ${NOISY_CORES} of a core; ✗ = some requests failed; n/a = target not available.`);
  if (h.portkeyNote) lines.push(`Portkey: ${h.portkeyNote}`);
  if (h.pgNote) lines.push(`PostgreSQL targets: ${h.pgNote}`);
  lines.push('');
  lines.push('<details><summary>Every round</summary>');
  lines.push('');
  lines.push('| scenario | target | rounds (value · foreign CPU · target CPU) |');
  lines.push('| --- | --- | --- |');
  for (const r of results) {
    for (const t of r.targets) {
      const samples = r.samples.get(t) ?? [];
      const why = r.skipped.get(t);
      const text = why
        ? why
        : samples
            .map((s) => `${fmt(s.value, r.digits)} ${r.unit} · ${fmt(s.foreign, 2)} · ${s.targetCpu === undefined ? '–' : fmt(s.targetCpu, 2)}${s.dbCpu === undefined ? '' : ` (+ PostgreSQL ${fmt(s.dbCpu, 2)})`}${s.errors ? ` · ${s.errors} errors (${s.firstError})` : ''}${s.detail ? ` · ${s.detail}` : ''}${(s.attempts ?? 1) > 1 ? ` · measured ${s.attempts}×` : ''}`)
            .join('<br>');
      lines.push(`| ${r.title} | ${TARGET_LABELS[t]} | ${text} |`);
    }
  }
  lines.push('');
  lines.push('</details>');
  return lines.join('\n');
}
