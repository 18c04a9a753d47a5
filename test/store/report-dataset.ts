/**
 * One data set for the report units' contract tests, written with plain INSERTs that both engines
 * accept (booleans as the literals true/false, which SQLite stores as 1/0), so the same rows exist
 * on SQLite and PostgreSQL. The ledger agrees with the keys and jobs: ledgerViolations() is empty.
 *
 * Times sit on UTC day boundaries: DAY0 is 2024-01-01T00:00:00Z. Ids mix upper and lower case so
 * that byte order (SQLite's BINARY) differs from a linguistic collation: 'key_B' < 'key_a' and
 * 'job_Z2' < 'job_a3' (a linguistic collation puts job_a3 first).
 */
import type { OpenStore } from '../helpers/engines.js';
import type { RequestLogRow } from '../../src/store/rows.js';

export const DAY = 86_400_000;
export const DAY0 = Date.UTC(2024, 0, 1); // 2024-01-01
export const DAY1 = DAY0 + DAY; // 2024-01-02
export const DAY2 = DAY0 + 2 * DAY; // 2024-01-03
/** The "now" of keyTotals and reconcilerLagMs. */
export const NOW = DAY2 + 3_600_000;

interface KeySpec {
  id: string;
  name: string;
  prefix: string;
  balance: number;
  held: number;
  disabled?: boolean;
  revokedAt?: number;
  expiresAt?: number;
}

export const KEYS: KeySpec[] = [
  { id: 'key_a', name: 'Alpha', prefix: 'sk-a', balance: 10_000_000, held: 500_000 },
  { id: 'key_B', name: 'Beta', prefix: 'sk-B', balance: 2_000_000, held: 0 },
  { id: 'key_r', name: 'Revoked', prefix: 'sk-r', balance: 1_000_000, held: 0, revokedAt: DAY0 },
  { id: 'key_d', name: 'Disabled', prefix: 'sk-d', balance: 300, held: 0, disabled: true },
  { id: 'key_x', name: 'Expired', prefix: 'sk-x', balance: 7, held: 0, expiresAt: DAY1 },
  { id: 'key_z', name: 'Zed', prefix: 'sk-z', balance: 0, held: 0, expiresAt: NOW + 1 },
];

export interface JobSpec {
  id: string;
  key: string;
  model: string;
  status: string;
  createdAt: number;
  held: number;
  charged: number;
  billed?: number;
  completedAt?: number;
  errorCode?: string;
  videoId?: string;
  requestId: string;
  upstreamRequestId?: string;
  nextPollAt?: number;
}

export const JOBS: JobSpec[] = [
  // Created in the last ms of 2023-12-31.
  { id: 'job_a1', key: 'key_a', model: 'sora-2', status: 'completed', createdAt: DAY0 - 1, held: 1_000_000, charged: 800_000, billed: 8, completedAt: DAY0 + 60_000, videoId: 'video_a1', requestId: 'req_a1', upstreamRequestId: 'up_a1' },
  // job_Z2 and job_a3 share created_at (the first ms of 2024-01-01): the tie is broken by id in byte order.
  { id: 'job_Z2', key: 'key_a', model: 'sora-2', status: 'failed', createdAt: DAY0, held: 500_000, charged: 0, errorCode: 'upstream_500', videoId: 'video_Z2', requestId: 'req_Z2' },
  { id: 'job_a3', key: 'key_a', model: 'sora-2-pro', status: 'in_progress', createdAt: DAY0, held: 500_000, charged: 0, videoId: 'video_a3', requestId: 'req_a3', upstreamRequestId: 'up_a3', nextPollAt: NOW - 2_500 },
  // The last ms of 2024-01-01, completed on 2024-01-02.
  { id: 'job_b1', key: 'key_B', model: 'sora-2-pro', status: 'completed', createdAt: DAY1 - 1, held: 2_000_000, charged: 1_500_000, billed: 4, completedAt: DAY1 + 5_000, videoId: 'video_b1', requestId: 'req_b1' },
  { id: 'job_b2', key: 'key_B', model: 'sora-2', status: 'rejected', createdAt: DAY1, held: 300_000, charged: 0, errorCode: 'upstream_400', requestId: 'req_b2' },
  { id: 'job_b3', key: 'key_B', model: 'sora-2', status: 'rejected', createdAt: DAY1 + 1, held: 100_000, charged: 0, errorCode: 'upstream_429', requestId: 'req_b3' },
  // SQLite's LIKE ignores ASCII case: this one is a client-side (4xx) rejection too.
  { id: 'job_b4', key: 'key_B', model: 'sora-2', status: 'rejected', createdAt: DAY1 + 2, held: 100_000, charged: 0, errorCode: 'UPSTREAM_404', requestId: 'req_b4' },
  { id: 'job_b5', key: 'key_B', model: 'sora-2', status: 'rejected', createdAt: DAY1 + 3, held: 100_000, charged: 0, requestId: 'req_b5' },
  { id: 'job_a4', key: 'key_a', model: 'sora-2', status: 'completed', createdAt: DAY1 + 1_000, held: 700_000, charged: 700_000, billed: 7, completedAt: DAY1 + 61_000, videoId: 'video_a4', requestId: 'req_a4' },
  { id: 'job_r1', key: 'key_r', model: 'sora-2', status: 'expired', createdAt: DAY1 + 3_600_000, held: 50_000, charged: 0, videoId: 'video_r1', requestId: 'req_r1' },
  // Created on 2024-01-03, and its poll was due 5 s before NOW (the most overdue).
  { id: 'job_x1', key: 'key_x', model: 'sora-2', status: 'unknown', createdAt: DAY2, held: 0, charged: 0, requestId: 'req_x1' },
  { id: 'job_z1', key: 'key_z', model: 'sora-2', status: 'pending', createdAt: DAY2 + 10, held: 0, charged: 0, requestId: 'req_z1', nextPollAt: NOW - 5_000 },
  { id: 'job_z2', key: 'key_z', model: 'sora-2', status: 'queued', createdAt: DAY2 + 20, held: 0, charged: 0, videoId: 'video_z2', requestId: 'req_z2', nextPollAt: NOW + 60_000 },
];

/** [kind, amount, key, job, terminal, created_at], in append (seq) order. */
export const LEDGER: [string, number, string, string | null, boolean, number][] = [
  ['credit', 10_000_000, 'key_a', null, false, DAY0 - 10_000],
  ['credit', 3_500_000, 'key_B', null, false, DAY0 - 10_000],
  ['credit', 1_000_000, 'key_r', null, false, DAY0 - 10_000],
  ['credit', 300, 'key_d', null, false, DAY0 - 10_000],
  ['credit', 7, 'key_x', null, false, DAY0 - 10_000],
  ['hold', 1_000_000, 'key_a', 'job_a1', false, DAY0 - 1],
  ['hold', 500_000, 'key_a', 'job_Z2', false, DAY0],
  ['hold', 500_000, 'key_a', 'job_a3', false, DAY0],
  ['release', 500_000, 'key_a', 'job_Z2', true, DAY0 + 30_000],
  // Captured in the last ms of 2024-01-01 …
  ['capture', 800_000, 'key_a', 'job_a1', true, DAY1 - 1],
  ['release', 200_000, 'key_a', 'job_a1', false, DAY1 - 1],
  ['hold', 2_000_000, 'key_B', 'job_b1', false, DAY1 - 1],
  // … and in the first ms of 2024-01-02.
  ['capture', 1_500_000, 'key_B', 'job_b1', true, DAY1],
  ['release', 500_000, 'key_B', 'job_b1', false, DAY1],
  ['hold', 300_000, 'key_B', 'job_b2', false, DAY1],
  ['release', 300_000, 'key_B', 'job_b2', true, DAY1 + 10],
  ['hold', 100_000, 'key_B', 'job_b3', false, DAY1 + 1],
  ['release', 100_000, 'key_B', 'job_b3', true, DAY1 + 10],
  ['hold', 100_000, 'key_B', 'job_b4', false, DAY1 + 2],
  ['release', 100_000, 'key_B', 'job_b4', true, DAY1 + 10],
  ['hold', 100_000, 'key_B', 'job_b5', false, DAY1 + 3],
  ['release', 100_000, 'key_B', 'job_b5', true, DAY1 + 10],
  ['credit', 1_600_000, 'key_a', null, false, DAY1 + 500],
  ['adjustment', 100_000, 'key_a', null, false, DAY1 + 600],
  ['hold', 700_000, 'key_a', 'job_a4', false, DAY1 + 1_000],
  ['capture', 700_000, 'key_a', 'job_a4', true, DAY1 + 61_000],
  ['hold', 50_000, 'key_r', 'job_r1', false, DAY1 + 3_600_000],
  ['release', 50_000, 'key_r', 'job_r1', true, DAY1 + 7_200_000],
];

/** Request-log rows, in seq order (seq 1…n on a fresh database). */
export const REQUESTS: RequestLogRow[] = [
  { requestId: 'req_a1', clientRequestId: 'client_1', upstreamRequestId: 'up_a1', keyId: 'key_a', method: 'POST', route: '/v1/videos', videoId: 'video_a1', status: 200, durationMs: 120, upstreamDurationMs: 100, bytesIn: 50, bytesOut: 400, createdAt: DAY0 - 1 },
  { requestId: 'req_Z2', keyId: 'key_a', method: 'POST', route: '/v1/videos', videoId: 'video_Z2', status: 200, durationMs: 320, upstreamDurationMs: 300, createdAt: DAY0 },
  { requestId: 'req_a3', upstreamRequestId: 'up_a3', keyId: 'key_a', method: 'POST', route: '/v1/videos', videoId: 'video_a3', status: 200, durationMs: 220, upstreamDurationMs: 200, createdAt: DAY0 },
  { requestId: 'req_g1', clientRequestId: 'client_2', keyId: 'key_a', method: 'GET', route: '/v1/videos/:id', videoId: 'video_a1', status: 200, durationMs: 5, upstreamDurationMs: 4, createdAt: DAY0 + 1_000 },
  { requestId: 'req_b1', keyId: 'key_B', method: 'POST', route: '/v1/videos', videoId: 'video_b1', status: 200, durationMs: 60, upstreamDurationMs: 50, createdAt: DAY1 - 1 },
  { requestId: 'req_b2', keyId: 'key_B', method: 'POST', route: '/v1/videos', status: 400, errorCode: 'upstream_400', durationMs: 30, upstreamDurationMs: 20, createdAt: DAY1 },
  { requestId: 'req_b3', keyId: 'key_B', method: 'POST', route: '/v1/videos', status: 429, errorCode: 'upstream_429', durationMs: 30, upstreamDurationMs: 10, createdAt: DAY1 + 1 },
  { requestId: 'req_g2', keyId: 'key_a', method: 'GET', route: '/v1/videos/:id', videoId: 'video_a1', status: 200, durationMs: 6, createdAt: DAY1 + 5 },
  { requestId: 'req_a4', keyId: 'key_a', method: 'POST', route: '/v1/videos', videoId: 'video_a4', status: 200, durationMs: 90, upstreamDurationMs: 80, createdAt: DAY1 + 1_000 },
  { requestId: 'req_adm', method: 'GET', route: '/admin/keys', status: 200, durationMs: 2, bytesOut: 3_000_000_000, createdAt: DAY2 },
];

const n = (v: number | undefined | null) => (v === undefined || v === null ? 'null' : String(v));
const s = (v: string | undefined | null) => (v === undefined || v === null ? 'null' : `'${v.replace(/'/g, "''")}'`);

/** Writes the whole data set through `engine.sql` (keys, jobs, ledger) and the store (request log). */
export async function seed(o: OpenStore): Promise<void> {
  for (const k of KEYS) {
    await o.sql(
      `insert into api_keys (id, name, prefix, hash, created_at, expires_at, disabled, revoked_at, balance_micros, held_micros)
       values (${s(k.id)}, ${s(k.name)}, ${s(k.prefix)}, ${s('hash_' + k.id)}, ${DAY0 - 100_000}, ${n(k.expiresAt)}, ${k.disabled ? 'true' : 'false'}, ${n(k.revokedAt)}, ${k.balance}, ${k.held})`,
    );
  }
  for (const j of JOBS) {
    await o.sql(
      `insert into jobs (id, video_id, key_id, kind, model, size, requested_seconds, billed_seconds, status, rate_micros, held_micros,
         charged_micros, request_id, upstream_request_id, error_code, created_at, updated_at, completed_at, next_poll_at)
       values (${s(j.id)}, ${s(j.videoId)}, ${s(j.key)}, 'create', ${s(j.model)}, '1280x720', 8, ${n(j.billed)}, ${s(j.status)}, 100000, ${j.held},
         ${j.charged}, ${s(j.requestId)}, ${s(j.upstreamRequestId)}, ${s(j.errorCode)}, ${j.createdAt}, ${j.completedAt ?? j.createdAt}, ${n(j.completedAt)}, ${n(j.nextPollAt)})`,
    );
  }
  let i = 0;
  for (const [kind, amount, key, job, terminal, at] of LEDGER) {
    i++;
    await o.sql(
      `insert into ledger (id, kind, amount_micros, key_id, job_id, terminal, actor, note, created_at)
       values ('led_${String(i).padStart(2, '0')}', ${s(kind)}, ${amount}, ${s(key)}, ${s(job)}, ${terminal ? 'true' : 'false'}, 'test', null, ${at})`,
    );
  }
  await o.store.insertRequestLogBatch(REQUESTS);
}

// The rows the store must hand back for the data set: every field, with its JS type.

export function jobRow(id: string) {
  const j = JOBS.find((x) => x.id === id);
  if (!j) throw new Error(`no job ${id} in the fixture`);
  return {
    id: j.id,
    videoId: j.videoId ?? null,
    keyId: j.key,
    kind: 'create',
    model: j.model,
    size: '1280x720',
    requestedSeconds: 8,
    billedSeconds: j.billed ?? null,
    outputSeconds: null,
    sourceVideoId: null,
    status: j.status,
    progress: null,
    rateMicros: 100_000,
    flatPriceMicros: null,
    heldMicros: j.held,
    chargedMicros: j.charged,
    requestId: j.requestId,
    upstreamRequestId: j.upstreamRequestId ?? null,
    finalObject: null,
    errorCode: j.errorCode ?? null,
    createdAt: j.createdAt,
    updatedAt: j.completedAt ?? j.createdAt,
    completedAt: j.completedAt ?? null,
    settledAt: null,
    lateCompletedAt: null,
    deletedAt: null,
    nextPollAt: j.nextPollAt ?? null,
    pollFailures: 0,
    notFoundCount: 0,
    lastNotFoundAt: null,
    instanceId: null,
    claimedBy: null,
    claimUntil: null,
    upstreamId: 'default',
  };
}

export function ledgerRow(seq: number) {
  const [kind, amountMicros, keyId, jobId, terminal, createdAt] = LEDGER[seq - 1]!;
  return { seq, id: `led_${String(seq).padStart(2, '0')}`, kind, amountMicros, keyId, jobId, terminal, requestId: null, actor: 'test', note: null, createdAt };
}

export function requestRow(seq: number) {
  const r = REQUESTS[seq - 1]!;
  return {
    seq,
    requestId: r.requestId,
    clientRequestId: r.clientRequestId ?? null,
    upstreamRequestId: r.upstreamRequestId ?? null,
    keyId: r.keyId ?? null,
    method: r.method,
    route: r.route,
    videoId: r.videoId ?? null,
    upstreamId: r.upstreamId ?? null,
    status: r.status,
    errorCode: r.errorCode ?? null,
    durationMs: r.durationMs,
    upstreamDurationMs: r.upstreamDurationMs ?? null,
    bytesIn: r.bytesIn ?? 0,
    bytesOut: r.bytesOut ?? 0,
    createdAt: r.createdAt,
  };
}
