import { formatUsd } from '../../money.js';

/** Display helpers of the dashboard: all times in UTC, money from integer micro-USD without floats. */

export const DAY_MS = 86_400_000;

/** 400000 → "$0.40"; 123456 → "$0.123456" (trailing zeros trimmed down to cents). */
export function usd(micros: number): string {
  const s = formatUsd(micros).replace(/0{1,4}$/, '');
  const [whole, frac = ''] = s.split('.');
  const sign = whole!.startsWith('-') ? '-' : '';
  const digits = whole!.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}$${digits}.${frac.padEnd(2, '0')}`;
}

/** 2026-11-01 14:03:05 (UTC) */
export function time(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** 14:03:05.123 on 2026-11-01, for event timelines. */
export function timeMs(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
}

export const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** 850 → "850 ms", 83_000 → "1m 23s", 7_260_000 → "2h 1m" */
export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '—';
  const tenths = Math.round((part * 1000) / whole);
  return `${Math.floor(tenths / 10)}.${tenths % 10}%`;
}

/** UTC midnight of the day `ms` falls in. */
export const startOfDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** Every UTC day from `from` (inclusive) to `to` (exclusive) as YYYY-MM-DD. */
export function daysBetween(from: number, to: number): string[] {
  const out: string[] = [];
  for (let d = startOfDay(from); d < to; d += DAY_MS) out.push(isoDay(d));
  return out;
}

/** A window of whole UTC days ending today (today included). */
export function lastDays(now: number, days: number): { from: number; to: number } {
  const to = startOfDay(now) + DAY_MS;
  return { from: to - days * DAY_MS, to };
}

export const WINDOWS = [7, 14, 30, 90] as const;
export function windowDays(raw: string | undefined, fallback = 14): number {
  const n = Number(raw);
  return (WINDOWS as readonly number[]).includes(n) ? n : fallback;
}

/** A short, safe single-line value from a query string or form field. */
export function field(raw: string | undefined | null, max = 200): string {
  return (raw ?? '').trim().slice(0, max);
}

/** Query string from the non-empty values (for links that keep the current filters). */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
