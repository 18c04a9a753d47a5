import { describe, expect, it } from 'vitest';
import { cpuPerRequest, markdown, type ScenarioResult, type Sample } from '../../bench/report.js';

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
    const text = markdown({ command: 'x', startedAt: new Date(0), seconds: 1, machine: 'm', rounds: 1, busyNote: null, portkeyNote: null }, [r], '', []);
    expect(text).toContain('| Status polling | 200 | 400 | 0.50× |');
  });
});
