import { Reconciler, type ReconcilerOptions } from '../../src/billing/reconciler.js';
import type { Deps } from '../../src/deps.js';

/**
 * A reconciler over an app's own dependencies, for tests that run its passes by hand (`tick()`):
 * a day's maximum job age, and every pending create counted as this process's own (bootTime 0)
 * unless the test says otherwise.
 */
export function testReconciler(deps: Pick<Deps, 'store' | 'upstream' | 'settlement' | 'logger' | 'now'>, opts: Partial<ReconcilerOptions> = {}): Reconciler {
  return new Reconciler({
    store: deps.store,
    upstream: deps.upstream,
    settlement: deps.settlement,
    logger: deps.logger,
    now: deps.now,
    intervalMs: 10,
    maxJobAgeMs: 24 * 3600_000,
    bootTime: 0,
    ...opts,
  });
}
