import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresEngine, sqliteEngine, type OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import { T0, newJob, newKey } from './fixtures.js';

/**
 * The same units of work on both engines give rows that deep-equal, value for value and type for
 * type (numbers, booleans, null, string arrays), apart from the random ledger and audit ids.
 */
describe('engine parity', () => {
  let lite: OpenStore;
  let pg: OpenStore;
  beforeAll(async () => {
    [lite, pg] = await Promise.all([sqliteEngine.open(), postgresEngine.open()]);
  });
  afterAll(async () => {
    await Promise.all([lite?.close(), pg?.close()]);
  });

  async function script(store: Store) {
    const w = (now: number) => ({ actor: 'admin', requestId: `req_${now}`, now });
    const out: unknown[] = [];
    const strip = <T extends { id: string }>(r: T) => ({ ...r, id: r.id.slice(0, 4) });
    out.push(await store.createKey(newKey({ id: 'key_p', allowedModels: ['sora-2'], rpmLimit: 10, maxConcurrentDownloads: 3 }), { who: w(T0), credit: { micros: 9_000_000, note: 'seed' }, audit: { action: 'key.create', targetId: 'key_p', details: { a: 1 } } }));
    out.push(await store.createKey(newKey({ id: 'key_q' })));
    out.push(await store.placeHold(newJob('key_p', { id: 'job_1', requestId: 'req_j1' }), w(T0 + 1), { maxInflightJobs: 5 }));
    out.push(await store.placeHold(newJob('key_p', { id: 'job_2', requestId: 'req_j2', flatPriceMicros: 300_000 }), w(T0 + 2), { maxInflightJobs: null }));
    out.push(await store.placeHold(newJob('key_q', { id: 'job_3', requestId: 'req_j3' }), w(T0 + 3), { maxInflightJobs: null }));
    out.push(await store.recordSubmitted('job_1', { videoId: 'video_1', status: 'queued', progress: null, upstreamRequestId: 'up1', nextPollAt: T0 + 100 }, T0 + 4));
    out.push(await store.recordSubmitted('job_2', { videoId: 'video_2', status: 'in_progress', progress: 5, upstreamRequestId: null, nextPollAt: T0 + 100 }, T0 + 4));
    await store.recordProgress('job_1', { status: 'in_progress', progress: 50, nextPollAt: T0 + 200 }, T0 + 5);
    out.push(await store.recordNotFound('job_2', T0 + 6, 1000, T0 + 300));
    await store.recordPollFailure('job_2', T0 + 400, T0 + 7);
    out.push(await store.settleJob('job_1', { kind: 'completed', billedSeconds: 3, finalObject: '{"x":1}', completedAt: T0 + 8 }, w(T0 + 9)));
    out.push(await store.settleJob('job_2', { kind: 'expired', reason: 'max_age' }, w(T0 + 10)));
    await store.recordLateCompletion('job_2', { billedSeconds: 4, outputSeconds: null, finalObject: '{}', completedAt: T0 + 11 }, T0 + 12);
    out.push(strip(await store.appendCredit('key_p', -1_000, 'fix', w(T0 + 13), { action: 'key.adjust', targetId: 'key_p', details: null })));
    out.push(await store.updateKey('key_q', { disabled: true, allowedModels: [] }));
    out.push(await store.revokeKey('key_q', T0 + 14));
    await store.touchKeys(new Map([['key_p', T0 + 15]]));
    out.push(await store.claimIdempotencyKey({ keyId: 'key_p', idemKey: 'i', route: 'r', bodyHash: 'b', now: T0, expiredBefore: 0, instanceId: 'instance-1', deadBefore: 0 }));
    await store.completeIdempotencyKey('key_p', 'i', { status: 200, headers: { a: 'b' }, body: 'x' });
    out.push(await store.claimIdempotencyKey({ keyId: 'key_p', idemKey: 'i', route: 'r', bodyHash: 'b', now: T0, expiredBefore: 0, instanceId: 'instance-1', deadBefore: 0 }));
    await store.recordCharacter({ id: 'char_1', keyId: 'key_p', requestId: 'req_c', createdAt: T0 });
    out.push(await store.getCharacter('char_1'));
    out.push(await store.getKey('key_p'), await store.getKey('key_q'));
    out.push(await store.getJob('job_1'), await store.getJob('job_2'), await store.getJob('job_3'));
    out.push(await store.listVideosForKeys(['key_p', 'key_q'], { limit: 10, order: 'desc' }));
    out.push(await store.searchKeys({ sort: 'available', dir: 'desc', offset: 0, limit: 10 }));
    out.push(await store.listKeyNames(), await store.listKeys({ limit: 10 }));
    out.push(await store.keyHeadroom('key_p', true), await store.openHoldTotals(), await store.countOpenJobsDue(T0 + 1000));
    out.push(await store.jobsDueForPoll(T0 + 1000, 10), await store.pendingJobsOfDeadInstances({ deadBefore: T0, self: 'instance-1', selfStaleBefore: T0, limit: 10 }));
    out.push((await store.listAudit({ limit: 10 })).map(({ seq: _s, ...a }) => strip(a)), await store.auditActions());
    return out;
  }

  it('the same script gives deep-equal results on SQLite and PostgreSQL', async () => {
    const a = await script(lite.store);
    const b = await script(pg.store);
    expect(b).toStrictEqual(a);
    // and the ledger underneath, as each engine's raw rows normalise to the same
    const q = 'select kind, amount_micros, key_id, job_id, terminal, request_id, actor, note, created_at from ledger order by seq';
    const norm = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r, amount_micros: Number(r.amount_micros), created_at: Number(r.created_at), terminal: Boolean(r.terminal) }));
    expect(norm(await pg.sql(q))).toEqual(norm(await lite.sql(q)));
  });
});
