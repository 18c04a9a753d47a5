import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8's full garbage collection, for tests that check what memory is let go. The flag that exposes
 * gc() is read when a context is made, so a fresh context has it. It is called with no argument:
 * Node 20's V8 reads any argument, `{ type: 'major' }` included, as a request for a young-generation
 * collection only (a PerformanceObserver reports kind 1, a scavenge).
 */
export function fullGc(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}
