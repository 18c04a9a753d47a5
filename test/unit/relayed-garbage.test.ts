import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { ScavengeEvery, relayedGarbage, RELAYED_BYTES_PER_SCAVENGE, type Gc } from '../../src/relay/relayed-garbage.js';

describe('the scavenge after relayed bytes', () => {
  it('looks for its gc function only once the threshold is first reached', () => {
    let lookups = 0;
    const valve = new ScavengeEvery(() => {
      lookups++;
      return () => {};
    }, 1000);
    valve.note(999);
    expect(lookups).toBe(0);
    valve.note(1);
    valve.note(1000);
    expect(lookups).toBe(1);
  });

  it('runs a young-generation collection each time the threshold has been relayed, not before', () => {
    const calls: unknown[] = [];
    const gc: Gc = (o) => void calls.push(o);
    const valve = new ScavengeEvery(() => gc, 1000);
    valve.note(600);
    expect(calls).toHaveLength(0);
    valve.note(400);
    expect(calls).toEqual([{ type: 'minor' }]);
    for (let i = 0; i < 10; i++) valve.note(250);
    expect(calls).toHaveLength(3);
  });

  it('is active in this Node.js: the process-wide valve found a gc function', () => {
    expect(relayedGarbage.active).toBe(true);
    expect(RELAYED_BYTES_PER_SCAVENGE).toBeGreaterThan(1024 * 1024);
  });

  it('does nothing without a gc function', () => {
    const valve = new ScavengeEvery(() => null, 1);
    expect(valve.active).toBe(false);
    expect(() => valve.note(10)).not.toThrow();
  });

  // A scavenge finds dead buffers at once, but V8 frees their backing stores on a background
  // thread (its array-buffer sweeper), so about half the time on Node 20 and 22 the count has not
  // dropped yet when gc() returns. This test has V8 sweep on the main thread, so that the drop is
  // seen synchronously and can only be the valve's scavenge (nothing else runs in between).
  afterEach(() => setFlagsFromString('--concurrent-array-buffer-sweeping'));

  it('frees spent socket-sized buffers: their memory is gone after the valve has seen enough bytes', () => {
    setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    const baseline = process.memoryUsage().arrayBuffers;
    // 200 spent socket reads (64 KiB each, 12.5 MiB), referenced by nothing.
    for (let i = 0; i < 200; i++) Buffer.allocUnsafeSlow(64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    expect(before - baseline).toBeGreaterThan(8 * 1024 * 1024);
    relayedGarbage.note(RELAYED_BYTES_PER_SCAVENGE);
    expect(process.memoryUsage().arrayBuffers).toBeLessThan(before - 8 * 1024 * 1024);
  });
});
