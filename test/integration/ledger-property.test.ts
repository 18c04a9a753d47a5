import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Store } from '../../src/store/store.js';
import { Settlement } from '../../src/billing/settlement.js';
import { Reconciler } from '../../src/billing/reconciler.js';
import { silentLogger } from '../../src/logging/logger.js';
import { Upstream } from '../../src/relay/upstream.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { TestClock } from '../helpers/app-harness.js';
import { ENGINE_NAMES, newTestDatabase } from '../helpers/engine-databases.js';
import { singleUpstream } from '../../src/relay/registry.js';

/**
 * Random sequences of credits, creates, polls, completions, failures, expiries, restarts and
 * idempotent retries (repeated observations) against a real SQLite file, and against a PostgreSQL
 * database of its own per run (a restart closes the store and reopens it on the same file or
 * database: a new connection pool on PostgreSQL). After every step: balance = credits − captures
 * (− adjustments), available ≥ 0, at most one terminal entry per job.
 */
const KEYS = ['key_a', 'key_b'];

type Cmd =
  | { t: 'credit'; key: number; micros: number }
  | { t: 'adjust'; key: number; micros: number }
  | { t: 'create'; key: number; seconds: 4 | 8 | 12 }
  | { t: 'progress'; job: number }
  | { t: 'complete'; job: number; seconds: number }
  | { t: 'fail'; job: number }
  | { t: 'vanish'; job: number }
  | { t: 'reject'; job: number }
  | { t: 'expire' }
  | { t: 'restart' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant('credit' as const), key: fc.nat(1), micros: fc.integer({ min: 1, max: 3_000_000 }) }),
  fc.record({ t: fc.constant('adjust' as const), key: fc.nat(1), micros: fc.integer({ min: 1, max: 2_000_000 }) }),
  fc.record({ t: fc.constant('create' as const), key: fc.nat(1), seconds: fc.constantFrom(4 as const, 8 as const, 12 as const) }),
  fc.record({ t: fc.constant('progress' as const), job: fc.nat(30) }),
  fc.record({ t: fc.constant('complete' as const), job: fc.nat(30), seconds: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ t: fc.constant('fail' as const), job: fc.nat(30) }),
  fc.record({ t: fc.constant('vanish' as const), job: fc.nat(30) }),
  fc.record({ t: fc.constant('reject' as const), job: fc.nat(30) }),
  fc.constant({ t: 'expire' as const }),
  fc.constant({ t: 'restart' as const }),
);

describe.each(ENGINE_NAMES)('ledger invariants (property-based, %s)', (engine) => {
  it('hold under any sequence of operations, restarts and repeated deliveries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 60 }), async (cmds) => {
        const db = await newTestDatabase(engine, 'reelay-prop-');
        const clock = new TestClock();
        let database = await db.openStore();
        let store: Store = database.store;
        const upstream = new Upstream({ baseUrl: 'http://127.0.0.1:9/v1', apiKey: undefined, timeouts: { connectMs: 100, headersMs: 100, bodyMs: 100 } });
        const settlement = () => new Settlement(store, clock.now, silentLogger(), { minPollMs: 1, maxPollMs: 1, maxBackoffMs: 1, notFoundSpacingMs: 60_000, notFoundLimit: 3 });
        let s = settlement();
        for (const [i, id] of KEYS.entries()) {
          await store.createKey({ id, name: id, prefix: 'p', hash: `h${i}`, createdAt: 0, expiresAt: null, allowedModels: null, rpmLimit: null, maxInflightJobs: null });
        }
        const jobs: string[] = [];
        const who = { actor: 'prop', requestId: null, now: clock.now() };
        try {
          for (const c of cmds) {
            clock.advance(61_000);
            const pick = async (n: number) => (jobs.length ? (await store.getJob(jobs[n % jobs.length]!))! : undefined);
            switch (c.t) {
              case 'credit':
                await store.appendCredit(KEYS[c.key]!, c.micros, null, who);
                break;
              case 'adjust':
                try {
                  await store.appendCredit(KEYS[c.key]!, -c.micros, null, who);
                } catch {
                  /* refused: would go below zero */
                }
                break;
              case 'create': {
                const id = `job_${jobs.length}`;
                const r = await store.placeHold(
                  { id, keyId: KEYS[c.key]!, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: c.seconds, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: c.seconds * 100_000, requestId: id },
                  { ...who, now: clock.now() },
                  { maxInflightJobs: null },
                );
                if (r.ok) {
                  await store.recordSubmitted(id, { videoId: `video_${id}`, status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt: 0 }, clock.now());
                  jobs.push(id);
                }
                break;
              }
              case 'progress': {
                const j = await pick(c.job);
                if (j) await s.observe(j, { type: 'object', object: { id: j.videoId, status: 'in_progress', progress: 50 }, raw: '{}' }, 'prop', null);
                break;
              }
              case 'complete': {
                const j = await pick(c.job);
                const obj = { id: j?.videoId, status: 'completed', seconds: String(c.seconds) };
                // Delivered twice, as a client poll and the reconciler would.
                if (j) for (let k = 0; k < 2; k++) await s.observe((await store.getJob(j.id))!, { type: 'object', object: obj, raw: JSON.stringify(obj) }, 'prop', null);
                break;
              }
              case 'fail': {
                const j = await pick(c.job);
                if (j) await s.observe(j, { type: 'object', object: { id: j.videoId, status: 'failed', error: { code: 'x' } }, raw: '{}' }, 'prop', null);
                break;
              }
              case 'vanish': {
                const j = await pick(c.job);
                if (j) await s.observe(j, { type: 'not_found' }, 'prop', null);
                break;
              }
              case 'reject': {
                const j = await pick(c.job);
                if (j) await s.settle(j, { kind: 'rejected', errorCode: 'x' }, 'prop', null);
                break;
              }
              case 'expire': {
                clock.advance(25 * 3600_000);
                const r = new Reconciler({ store, upstreams: singleUpstream(upstream), settlement: s, logger: silentLogger(), now: clock.now, intervalMs: 1, maxJobAgeMs: 24 * 3600_000, instanceId: 'property-test', instanceTimeoutMs: 30_000, batchSize: 1000 });
                await r.tick();
                break;
              }
              case 'restart':
                await database.close();
                database = await db.openStore();
                store = database.store;
                s = settlement();
                break;
            }
            const violations = await ledgerViolations(store);
            if (violations.length) throw new Error(`after ${JSON.stringify(c)}: ${violations.join('; ')}`);
          }
          // Charges never exceed what was held, and failed/expired jobs are free.
          const reader = await db.openReader();
          try {
            const rows = await reader.all<{ status: string; h: number; c: number }>('select status, held_micros as h, charged_micros as c from jobs');
            for (const r of rows) {
              expect(r.c).toBeLessThanOrEqual(r.h);
              if (r.status !== 'completed') expect(r.c).toBe(0);
            }
          } finally {
            await reader.close();
          }
        } finally {
          await database.close();
          await db.remove();
        }
      }),
      // On PostgreSQL each run costs a database of its own (about 0.1 s to clone and drop) and a
      // few ms a step: 30 runs keep the file near 10 s there.
      // On PostgreSQL each run costs a database of its own (about 0.1 s to clone and drop) and a
      // few ms a step: 30 runs there (3–8 s here; 60 took 14–16 s).
      { numRuns: engine === 'sqlite' ? 60 : 30 },
    );
    await new Promise((r) => setTimeout(r, 0));
  }, 60_000); // on a machine loaded by other work the PostgreSQL runs took 20 s (3-8 s otherwise)
});
