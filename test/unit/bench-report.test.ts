import { describe, expect, it } from 'vitest';
import { cpuPerRequest, markdown, retriesLine, type ScenarioResult, type Sample } from '../../bench/report.js';
import { measureSample } from '../../bench/disturbed.js';
import { settleRss } from '../../bench/machine.js';

const result = (samples: Record<string, Sample[]>): ScenarioResult => ({
  id: 'poll-running',
  title: 'Status polling',
  measure: 'requests/s',
  unit: 'req/s',
  better: 'higher',
  digits: 0,
  targets: ['bare', 'reelay'],
  samples: new Map(Object.entries(samples)) as ScenarioResult['samples'],
  skipped: new Map(),
});

describe('bench report: CPU time per request', () => {
  it('is the median over rounds of the target CPU divided by requests/s, in µs', () => {
    const r = result({
      bare: [
        { value: 5000, foreign: 0, targetCpu: 1.0, errors: 0 }, // 200 µs
        { value: 2000, foreign: 0.5, targetCpu: 0.5, errors: 0 }, // 250 µs
        { value: 4000, foreign: 0, targetCpu: 0.9, errors: 0 }, // 225 µs
      ],
      reelay: [{ value: 4000, foreign: 0, targetCpu: 1.0, errors: 0 }, { value: 1000, foreign: 0, errors: 0 }],
    });
    expect(cpuPerRequest(r, 'bare')).toBeCloseTo(225, 6);
    // A round without a CPU reading is left out rather than counted as zero.
    expect(cpuPerRequest(r, 'reelay')).toBeCloseTo(250, 6);
  });

  it('appears in the report with bare ÷ reelay', () => {
    const r = result({
      bare: [{ value: 5000, foreign: 0, targetCpu: 1.0, errors: 0 }],
      reelay: [{ value: 2500, foreign: 0, targetCpu: 1.0, errors: 0 }],
    });
    const text = markdown({ command: 'x', startedAt: new Date(0), seconds: 1, machine: 'm', rounds: 1, busyNote: null, portkeyNote: null, retries: 2 }, [r], '', []);
    expect(text).toContain('| Status polling | 200 | 400 | 0.50× |');
  });
});

describe('bench: disturbed samples are measured again', () => {
  const takes = (foreign: number[]) => {
    let i = 0;
    const calls: number[] = [];
    const take = async (): Promise<Sample> => {
      calls.push(i);
      const f = foreign[i++]!;
      return { value: 1000 + i, foreign: f, errors: 0 };
    };
    return { take, calls };
  };

  it('takes a quiet sample once', async () => {
    const t = takes([0.05]);
    const s = await measureSample(t.take, { retries: 2, pauseMs: 0 });
    expect(t.calls).toHaveLength(1);
    expect(s).toMatchObject({ value: 1001, foreign: 0.05, attempts: 1 });
  });

  it('takes a disturbed sample again until one is quiet, and keeps that one', async () => {
    const t = takes([0.9, 0.05, 0.0]);
    const retried: number[] = [];
    const s = await measureSample(t.take, { retries: 2, pauseMs: 0, onRetry: (d) => retried.push(d.foreign) });
    expect(t.calls).toHaveLength(2);
    expect(retried).toEqual([0.9]);
    expect(s).toMatchObject({ value: 1002, foreign: 0.05, attempts: 2 });
  });

  it('counts a fifth of a core of foreign CPU as disturbed (it cost reelay a third of its finished polls)', async () => {
    const t = takes([0.2, 0.0]);
    const s = await measureSample(t.take, { retries: 2, pauseMs: 0 });
    expect(t.calls).toHaveLength(2);
    expect(s).toMatchObject({ value: 1002, foreign: 0.0, attempts: 2 });
  });

  it('stops after the allowed retries and keeps the least disturbed measurement', async () => {
    const t = takes([0.9, 0.4, 0.6, 0.0]);
    const s = await measureSample(t.take, { retries: 2, pauseMs: 0 });
    expect(t.calls).toHaveLength(3);
    expect(s).toMatchObject({ value: 1002, foreign: 0.4, attempts: 3 });
  });

  it('never retries with --retries 0', async () => {
    const t = takes([0.9, 0.0]);
    const s = await measureSample(t.take, { retries: 0, pauseMs: 0 });
    expect(t.calls).toHaveLength(1);
    expect(s.attempts).toBe(1);
  });

  it('is counted in the report, with the samples that stayed disturbed', () => {
    const r = result({
      bare: [{ value: 1, foreign: 0, errors: 0, attempts: 1 }, { value: 1, foreign: 0.05, errors: 0, attempts: 2 }],
      reelay: [{ value: 1, foreign: 0.5, errors: 0, attempts: 3 }],
    });
    expect(retriesLine(2, [r])).toContain('2 of 3 samples were measured again, 1 of them stayed disturbed');
    expect(retriesLine(0, [r])).toContain('not measured again');
    const text = markdown({ command: 'x', startedAt: new Date(0), seconds: 1, machine: 'm', rounds: 1, busyNote: null, portkeyNote: null, retries: 2 }, [r], '', []);
    expect(text).toContain('1 req/s · 0.50 · – · measured 3×');
  });
});

describe('bench: memory rounds start from a settled process', () => {
  const MB = 1024 * 1024;
  const opts = { minQuietMs: 0, windowMs: 30, toleranceBytes: 1 * MB, maxMs: 2000, everyMs: 10 };
  /** An RSS reader that plays back a list of readings per pid (in MB), repeating the last one. */
  const playback = (byPid: Record<number, number[]>) => {
    const at = new Map<number, number>();
    return (pid: number) => {
      const list = byPid[pid]!;
      const i = at.get(pid) ?? 0;
      at.set(pid, i + 1);
      return list[Math.min(i, list.length - 1)]! * MB;
    };
  };

  it('waits until every process has stopped shrinking, not just the first one', async () => {
    const rss = playback({ 1: [80, 80, 80, 80], 2: [98, 98, 98, 85, 85, 85, 85] });
    const reads: number[] = [];
    const result = await settleRss([1, 2], { ...opts, quietSince: performance.now() }, (pid) => {
      const v = rss(pid);
      if (pid === 2) reads.push(v / MB);
      return v;
    });
    expect(result.settled).toBe(true);
    // It stopped only once the second process had held 85 MB for the whole window (4 readings).
    expect(reads.slice(-4)).toEqual([85, 85, 85, 85]);
  });

  it('does not call a process settled before it has been quiet for the minimum time', async () => {
    const started = performance.now();
    const result = await settleRss([1], { ...opts, minQuietMs: 200, quietSince: started }, playback({ 1: [80] }));
    expect(result.settled).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('gives up after its limit when memory keeps moving, and says so', async () => {
    let mb = 80;
    const result = await settleRss([1], { ...opts, maxMs: 150, quietSince: performance.now() }, () => (mb += 2) * MB);
    expect(result.settled).toBe(false);
    expect(result.waitedMs).toBeGreaterThanOrEqual(150);
  });
});
