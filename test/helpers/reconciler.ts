import { Reconciler, type ReconcilerOptions } from '../../src/billing/reconciler.js';
import type { Deps } from '../../src/deps.js';

/**
 * A reconciler over an app's own dependencies, for tests that run its passes by hand (`tick()`):
 * a day's maximum job age, and the app's own instance (so its pending creates are its own, never
 * taken over) unless the test says otherwise, e.g. `instanceId: 'a-later-process'`.
 */
export function testReconciler(deps: Pick<Deps, 'store' | 'upstreams' | 'settlement' | 'logger' | 'now' | 'instance'>, opts: Partial<ReconcilerOptions> = {}): Reconciler {
  return new Reconciler({
    store: deps.store,
    upstreams: deps.upstreams,
    settlement: deps.settlement,
    logger: deps.logger,
    now: deps.now,
    intervalMs: 10,
    maxJobAgeMs: 24 * 3600_000,
    instanceId: deps.instance.id,
    instanceTimeoutMs: 30_000,
    ...opts,
  });
}
