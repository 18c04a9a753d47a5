/**
 * A small parser of Prometheus' text exposition format (0.0.4), so tests look series up by name
 * and labels rather than by matching whole lines (label order and spacing are the registry's).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** metric name → its TYPE */
  types: Map<string, string>;
  /** metric name → its HELP */
  helps: Map<string, string>;
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Parses `{a="x",b="y \"q\""}` starting at `i` (the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, i: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // {
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    const name = line.slice(i, eq).trim();
    if (line[eq + 1] !== '"') throw new Error(`bad label in: ${line}`);
    let j = eq + 2;
    let value = '';
    while (line[j] !== '"') {
      if (line[j] === '\\') {
        const next = line[j + 1];
        value += next === 'n' ? '\n' : next;
        j += 2;
      } else {
        value += line[j];
        j++;
      }
      if (j >= line.length) throw new Error(`unterminated label value in: ${line}`);
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
  }
  return [labels, i + 1];
}

export function parseExposition(text: string): Exposition {
  const out: Exposition = { samples: [], types: new Map(), helps: new Map() };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'TYPE' ? out.types : out.helps).set(meta[2]!, meta[3]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const nameEnd = line.search(/[{\s]/);
    const name = line.slice(0, nameEnd);
    let labels: Record<string, string> = {};
    let rest = nameEnd;
    if (line[nameEnd] === '{') [labels, rest] = parseLabels(line, nameEnd);
    const value = line.slice(rest).trim().split(/\s+/)[0]!;
    out.samples.push({ name, labels, value: parseValue(value) });
  }
  return out;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ak = Object.keys(a);
  return ak.length === Object.keys(b).length && ak.every((k) => a[k] === b[k]);
}

/** The value of the sample with exactly these labels, or undefined when there is none. */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return e.samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
}

/** Like sampleValue, but a missing series counts as 0 (a counter not yet incremented). */
export function valueOr0(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(e, name, labels) ?? 0;
}
