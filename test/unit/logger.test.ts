import { describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLogger, isoTimeOncePerMs } from '../../src/logging/logger.js';

describe('access-log timestamps', () => {
  it('are pino’s isoTime, formatted again only when the millisecond changes', () => {
    let ms = Date.UTC(2026, 10, 22, 8, 50, 0, 123);
    const stamp = isoTimeOncePerMs(() => ms);
    const first = stamp();
    expect(first).toBe(',"time":"2026-11-22T08:50:00.123Z"');
    const realNow = Date.now;
    try {
      Date.now = () => ms;
      expect(first).toBe(pino.stdTimeFunctions.isoTime());
    } finally {
      Date.now = realNow;
    }
    expect(stamp()).toBe(first);
    ms += 1;
    expect(stamp()).toBe(',"time":"2026-11-22T08:50:00.124Z"');
    ms += 86_400_000;
    expect(stamp()).toBe(',"time":"2026-11-23T08:50:00.124Z"');
  });

  it('make every line of reelay’s logger carry the time of its writing', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger('info', sink);
    const before = Date.now();
    logger.info({ request_id: 'req_1' }, 'request');
    await new Promise((r) => setTimeout(r, 5));
    logger.info({ request_id: 'req_2' }, 'request');
    const after = Date.now();
    await new Promise((r) => setImmediate(r));
    const times = lines.map((l) => Date.parse((JSON.parse(l) as { time: string }).time));
    expect(times).toHaveLength(2);
    expect(times[0]).toBeGreaterThanOrEqual(before);
    expect(times[1]).toBeGreaterThanOrEqual(times[0]! + 5);
    expect(times[1]).toBeLessThanOrEqual(after);
  });

  it('follow a clock installed after the logger was made', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('info', sink);
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 2, 3, 4, 5, 678) });
    try {
      logger.info('request');
    } finally {
      vi.useRealTimers();
    }
    expect((JSON.parse(lines.join('')) as { time: string }).time).toBe('2030-01-02T03:04:05.678Z');
  });
});
