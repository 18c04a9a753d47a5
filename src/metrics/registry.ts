/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format (version 0.0.4). Pure and synchronous; observing is a Map lookup and a few
 * additions, cheap enough for every request.
 */
export type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

interface Metric {
  render(out: string[]): void;
}

abstract class Labelled<T> implements Metric {
  protected readonly series = new Map<string, { values: string[]; data: T }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected abstract init(): T;
  protected abstract type: string;
  protected abstract renderSeries(out: string[], values: string[], data: T): void;

  protected get(values: readonly string[]): T {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { values: [...values], data: this.init() };
      this.series.set(key, s);
    }
    return s.data;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const { values, data } of this.series.values()) this.renderSeries(out, values, data);
  }
}

export class Counter extends Labelled<{ value: number }> {
  protected type = 'counter';
  protected init() {
    return { value: 0 };
  }
  inc(values: readonly string[], by = 1): void {
    this.get(values).value += by;
  }
  protected renderSeries(out: string[], values: string[], data: { value: number }): void {
    out.push(`${this.name}${labelText(this.labelNames, values)} ${num(data.value)}`);
  }
}

/** A gauge whose value is read when the registry is rendered (a scrape). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.read())}`);
  }
}

/** A counter whose value is read at scrape time (e.g. process CPU seconds). */
export class ReadCounter implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, `${this.name} ${num(this.read())}`);
  }
}

interface HistogramData {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Labelled<HistogramData> {
  protected type = 'histogram';
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }
  protected init(): HistogramData {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }
  observe(values: readonly string[], v: number): void {
    const d = this.get(values);
    d.sum += v;
    d.count += 1;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        d.counts[i]! += 1;
        break;
      }
    }
  }
  protected renderSeries(out: string[], values: string[], d: HistogramData): void {
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += d.counts[i]!;
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${num(this.buckets[i]!)}"`)} ${cumulative}`);
    }
    out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${d.count}`);
    out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${num(d.sum)}`);
    out.push(`${this.name}_count${labelText(this.labelNames, values)} ${d.count}`);
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return `${out.join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
