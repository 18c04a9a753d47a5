import { exposedGc } from '../../src/relay/relayed-garbage.js';

/**
 * V8's full garbage collection, for tests that check what memory is let go: gc() called with no
 * argument (with one, Node 20's V8 runs only a young-generation collection).
 */
export function fullGc(): (() => void) | null {
  const gc = exposedGc();
  return gc ? () => gc() : null;
}
