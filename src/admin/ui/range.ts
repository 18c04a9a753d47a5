import { html } from 'hono/html';
import type { Html } from './layout.js';
import { DAY_MS, isoDay, qs, startOfDay } from './format.js';
import { parseIsoTime } from '../input.js';

/**
 * The date range of the dashboard's filters: "From" inclusive, "Before" exclusive (as in the admin
 * API), ISO dates (YYYY-MM-DD) or ISO timestamps, UTC. A range that can hold nothing (the same
 * day twice, Before earlier than From) or that cannot be read is explained on the page instead of
 * showing an empty table.
 */
export interface RangeFields {
  from: string;
  to: string;
}

export interface Range {
  from?: number;
  to?: number;
  /** what is wrong with the range, shown to the operator; the query is not run */
  error: string | null;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A date (midnight UTC) or an ISO timestamp, read as the admin API reads it; empty → undefined. */
function parseField(raw: string): { ok: true; value: number | undefined } | { ok: false } {
  if (!raw.trim()) return { ok: true, value: undefined };
  const ms = parseIsoTime(raw);
  return ms === null ? { ok: false } : { ok: true, value: ms };
}

const nextDay = (v: string, ms: number) => (DATE.test(v.trim()) ? isoDay(ms + DAY_MS) : isoDay(startOfDay(ms) + DAY_MS));

export function readRange(f: RangeFields): Range {
  const from = parseField(f.from);
  const to = parseField(f.to);
  const bad = [!from.ok && `From “${f.from}”`, !to.ok && `Before “${f.to}”`].filter(Boolean);
  if (bad.length) return { error: `${bad.join(' and ')}: not a date (YYYY-MM-DD) or an ISO timestamp (2026-11-01T14:00:00Z).` };
  const a = from.ok ? from.value : undefined;
  const b = to.ok ? to.value : undefined;
  if (a !== undefined && b !== undefined && b <= a) {
    const error =
      b === a
        ? `From and Before are both ${f.from}. Before is exclusive, so this range holds nothing: to see that one day, set Before to ${nextDay(f.from, a)}.`
        : `Before (${f.to}) is earlier than From (${f.from}), so this range holds nothing.`;
    return { from: a, to: b, error };
  }
  return { from: a, to: b, error: null };
}

export const PRESETS = [
  ['today', 'Today'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
  ['month', 'This month'],
] as const;
export type Preset = (typeof PRESETS)[number][0];

/** A preset as From/Before dates: whole UTC days, today included. */
export function presetRange(preset: Preset, now: number): RangeFields {
  const tomorrow = startOfDay(now) + DAY_MS;
  const days = preset === 'today' ? 1 : preset === '7d' ? 7 : preset === '30d' ? 30 : 0;
  const d = new Date(now);
  const from = preset === 'month' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) : tomorrow - days * DAY_MS;
  return { from: isoDay(from), to: isoDay(tomorrow) };
}

/**
 * The From/Before inputs and the preset links of a filter form. Presets are plain links that keep
 * the form's other filters (`keep`), so they need no script. Dates are text inputs: a date input
 * would show the browser's locale format instead of ISO.
 */
export function rangeInputs(action: string, f: RangeFields, keep: Record<string, string | undefined>, now: number): Html {
  return html`<label>From<input name="from" value="${f.from}" placeholder="YYYY-MM-DD" size="11" autocomplete="off"></label>
  <label>Before<input name="to" value="${f.to}" placeholder="YYYY-MM-DD" size="11" autocomplete="off"></label>
  <span class="presets" role="group" aria-label="Date presets">${PRESETS.map(([id, label]) => {
    const r = presetRange(id, now);
    const on = r.from === f.from && r.to === f.to;
    return html`<a href="${action}${qs({ ...keep, ...r })}"${on ? html` class="on" aria-current="true"` : ''} data-preset="${id}">${label}</a>`;
  })}</span>`;
}

/** The visible explanation of an unusable range (nothing when it is fine). */
export function rangeMessage(r: Range): Html | string {
  return r.error ? html`<div class="flash error" role="alert" id="range-error">${r.error}</div>` : '';
}
