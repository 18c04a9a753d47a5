import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BurstRelease, type Trim } from '../../src/relay/burst-release.js';
import type { Gc } from '../../src/relay/relayed-garbage.js';

const MB = 1024 * 1024;

/** A tracker with a recording gc and trim: `events` lists what ran, in order. */
function tracker(opts: { gc?: boolean; trim?: boolean } = {}) {
  const events: string[] = [];
  const gc: Gc = (o) => void events.push(o ? `gc ${JSON.stringify(o)}` : 'full gc');
  const trim: Trim = () => {
    events.push('trim');
    return true;
  };
  const bursts = new BurstRelease({
    findGc: () => (opts.gc === false ? null : gc),
    findTrim: () => (opts.trim === false ? null : trim),
    quietMs: 1000,
    trimAfterMs: 200,
    minBytes: 10 * MB,
  });
  return { bursts, events };
}

describe('the release of memory after a burst of downloads', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('runs one full collection a quiet period after the last download ends, then malloc_trim', () => {
    const { bursts, events } = tracker();
    bursts.started();
    bursts.started();
    bursts.ended(6 * MB);
    vi.advanceTimersByTime(5000);
    expect(events).toEqual([]); // one download still in progress
    bursts.ended(6 * MB);
    vi.advanceTimersByTime(999);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['full gc']);
    vi.advanceTimersByTime(199);
    expect(events).toEqual(['full gc']);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['full gc', 'trim']);
    expect(bursts.releases).toBe(1);
    vi.advanceTimersByTime(60_000);
    expect(events).toHaveLength(2); // once per burst, not on a timer
  });

  it('waits again when a download starts during the quiet period', () => {
    const { bursts, events } = tracker();
    bursts.started();
    bursts.ended(20 * MB);
    vi.advanceTimersByTime(900);
    bursts.started();
    vi.advanceTimersByTime(5000);
    expect(events).toEqual([]);
    bursts.ended(1);
    vi.advanceTimersByTime(1000);
    expect(events).toEqual(['full gc']);
  });

  it('skips the trim when a download started after the collection: that one reuses the memory', () => {
    const { bursts, events } = tracker();
    bursts.started();
    bursts.ended(20 * MB);
    vi.advanceTimersByTime(1000);
    bursts.started();
    vi.advanceTimersByTime(1000);
    expect(events).toEqual(['full gc']);
  });

  it('does nothing until enough bytes were relayed since the last release', () => {
    const { bursts, events } = tracker();
    for (let i = 0; i < 9; i++) {
      bursts.started();
      bursts.ended(1 * MB);
      vi.advanceTimersByTime(2000);
    }
    expect(events).toEqual([]);
    bursts.started();
    bursts.ended(1 * MB); // 10 MB in all
    vi.advanceTimersByTime(2000);
    expect(events).toEqual(['full gc', 'trim']);
    bursts.started();
    bursts.ended(9 * MB); // counted afresh after a release
    vi.advanceTimersByTime(2000);
    expect(events).toHaveLength(2);
  });

  it('collects without trimming where the addon is missing, and does nothing without gc()', () => {
    const noTrim = tracker({ trim: false });
    noTrim.bursts.started();
    noTrim.bursts.ended(20 * MB);
    vi.advanceTimersByTime(2000);
    expect(noTrim.events).toEqual(['full gc']);

    const noGc = tracker({ gc: false });
    noGc.bursts.started();
    noGc.bursts.ended(20 * MB);
    expect(() => vi.advanceTimersByTime(2000)).not.toThrow();
    expect(noGc.events).toEqual([]);
    expect(noGc.bursts.releases).toBe(0);
  });
});
