import { html } from 'hono/html';
import type { Html } from './layout.js';

/**
 * Server-rendered SVG charts (no client script). Geometry uses floats; every label shown to the
 * operator comes from the caller's formatter (money from integer micros).
 */
const DEFAULT_W = 760;
const M = { top: 14, right: 14, bottom: 30, left: 70 };

export interface Point {
  label: string; // x label (a UTC day)
  value: number | null;
  title: string; // tooltip
}

/** 1, 2, 2.5, 5 × 10^k at or above `x`. */
export function niceStep(x: number): number {
  if (!(x > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= x) return m * mag;
  return 10 * mag;
}

/** Round steps for a time axis (ms): seconds, minutes, hours. */
export const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

function scale(values: (number | null)[], minStep: number, steps?: readonly number[]): { max: number; ticks: number[] } {
  const top = Math.max(0, ...values.filter((v): v is number => v !== null));
  const wanted = top / 4;
  const step = Math.max(minStep, steps ? (steps.find((s) => s >= wanted) ?? niceStep(wanted)) : niceStep(wanted));
  const max = Math.max(step, Math.ceil(top / step) * step);
  const ticks: number[] = [];
  for (let t = 0; t <= max + step / 2; t += step) ticks.push(t);
  return { max, ticks };
}

const f1 = (n: number) => Math.round(n * 10) / 10;

/** Room one x label needs, in viewBox units (text plus a gap). */
const LABEL_ROOM = 48;

function frame(W: number, height: number, labels: string[], ticks: number[], max: number, fmt: (v: number) => string): { parts: (Html | string)[]; x: (i: number) => number; y: (v: number) => number; band: number } {
  const plotW = W - M.left - M.right;
  const plotH = height - M.top - M.bottom;
  const band = plotW / Math.max(1, labels.length);
  const x = (i: number) => M.left + band * i + band / 2;
  const y = (v: number) => M.top + plotH - (plotH * v) / max;
  // Thin the x labels so that each has room for its text ("MM-DD" at 11px is about 36 units):
  // every `every`-th label, counted back from the last so the latest day is always named.
  const every = Math.max(1, Math.ceil((LABEL_ROOM * labels.length) / plotW));
  const parts: (Html | string)[] = [
    ...ticks.map(
      (t) => html`<line class="grid-line" x1="${M.left}" x2="${W - M.right}" y1="${f1(y(t))}" y2="${f1(y(t))}"/><text x="${M.left - 8}" y="${f1(y(t) + 4)}" text-anchor="end">${fmt(t)}</text>`,
    ),
    html`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${f1(y(0))}" y2="${f1(y(0))}"/>`,
    ...labels.map((l, i) =>
      (labels.length - 1 - i) % every === 0
        ? html`<text class="x-label" x="${f1(x(i))}" y="${height - 10}" text-anchor="middle">${l.length === 10 ? l.slice(5) : l}</text>`
        : '',
    ),
  ];
  return { parts, x, y, band };
}

/** Vertical bars, one per point (days without data are passed as 0). */
export function barChart(
  points: Point[],
  opts: { ariaLabel: string; format: (v: number) => string; minStep?: number; width?: number; height?: number; id?: string; barClass?: string },
): Html {
  const W = opts.width ?? DEFAULT_W;
  const height = opts.height ?? 240;
  const { max, ticks } = scale(
    points.map((p) => p.value),
    opts.minStep ?? 1,
  );
  const { parts, x, y, band } = frame(W, height, points.map((p) => p.label), ticks, max, opts.format);
  const bw = Math.max(2, Math.min(46, band * 0.68));
  const bars = points.map((p, i) => {
    const v = p.value ?? 0;
    const top = y(v);
    const h = Math.max(v > 0 ? 1 : 0, y(0) - top);
    return html`<rect class="bar${opts.barClass ? ` ${opts.barClass}` : ''}" data-day="${p.label}" data-value="${v}" x="${f1(x(i) - bw / 2)}" y="${f1(y(0) - h)}" width="${f1(bw)}" height="${f1(h)}"><title>${p.title}</title></rect>`;
  });
  return html`<svg class="chart"${opts.id ? html` id="${opts.id}"` : ''} viewBox="0 0 ${W} ${height}" role="img" aria-label="${opts.ariaLabel}" xmlns="http://www.w3.org/2000/svg">${parts}${bars}</svg>`;
}

export interface Series {
  name: string; // css suffix: line-<name>, dot-<name>
  points: Point[];
}

/** Lines over days; a null value breaks the line. */
export function lineChart(
  series: Series[],
  opts: { ariaLabel: string; format: (v: number) => string; minStep?: number; steps?: readonly number[]; width?: number; height?: number },
): Html {
  const W = opts.width ?? DEFAULT_W;
  const height = opts.height ?? 200;
  const labels = series[0]?.points.map((p) => p.label) ?? [];
  const { max, ticks } = scale(
    series.flatMap((s) => s.points.map((p) => p.value)),
    opts.minStep ?? 1,
    opts.steps,
  );
  const { parts, x, y } = frame(W, height, labels, ticks, max, opts.format);
  const drawn = series.map((s) => {
    const segments: string[][] = [[]];
    s.points.forEach((p, i) => {
      if (p.value === null) segments.push([]);
      else segments[segments.length - 1]!.push(`${f1(x(i))},${f1(y(p.value))}`);
    });
    return html`${segments.filter((seg) => seg.length > 1).map((seg) => html`<polyline class="line-${s.name}" points="${seg.join(' ')}"/>`)}${s.points.map((p, i) =>
      p.value === null ? '' : html`<circle class="dot-${s.name}" cx="${f1(x(i))}" cy="${f1(y(p.value))}" r="3"><title>${p.title}</title></circle>`,
    )}`;
  });
  return html`<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="${opts.ariaLabel}" xmlns="http://www.w3.org/2000/svg">${parts}${drawn}</svg>`;
}

/** A small horizontal share bar (e.g. jobs by status). */
export function shareBar(part: number, whole: number): Html {
  const w = whole > 0 ? f1((120 * part) / whole) : 0;
  return html`<svg class="hbar" width="120" height="8" viewBox="0 0 120 8" aria-hidden="true"><rect class="track" width="120" height="8" rx="4"/><rect class="fill" width="${w}" height="8" rx="4"/></svg>`;
}

/**
 * Horizontal bars with a name on the left (a key or a model): names may be long, which a vertical
 * chart's x axis cannot hold. Names are cut at 28 characters (the full name is in the tooltip).
 */
export function hbarChart(points: Point[], opts: { ariaLabel: string; format: (v: number) => string; id?: string; width?: number }): Html {
  const W = opts.width ?? DEFAULT_W;
  const row = 26;
  const labelW = 200;
  const valueW = 90;
  const height = Math.max(1, points.length) * row + 8;
  const top = Math.max(0, ...points.map((p) => p.value ?? 0));
  const plotW = W - labelW - valueW;
  const bars = points.map((p, i) => {
    const v = p.value ?? 0;
    const w = top > 0 ? Math.max(v > 0 ? 1 : 0, (plotW * v) / top) : 0;
    const y = 4 + i * row;
    const name = p.label.length > 28 ? `${p.label.slice(0, 27)}…` : p.label;
    return html`<g><title>${p.title}</title><text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${name}</text><rect class="bar" data-group="${p.label}" data-value="${v}" x="${labelW}" y="${y + 4}" width="${f1(w)}" height="${row - 10}"/><text class="value-label" x="${f1(labelW + w + 6)}" y="${y + 16}">${opts.format(v)}</text></g>`;
  });
  return html`<svg class="chart"${opts.id ? html` id="${opts.id}"` : ''} viewBox="0 0 ${W} ${height}" role="img" aria-label="${opts.ariaLabel}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>`;
}
