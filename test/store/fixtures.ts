/** Shared builders for the store contract suite (test/store/*.contract.test.ts); the fixed data set of the report units is report-dataset.ts. */
import { randomBytes } from 'node:crypto';
import type { OpenStore } from '../helpers/engines.js';
import type { Store } from '../../src/store/store.js';
import type { Actor, NewJob, NewKey } from '../../src/store/types.js';
import type { JobRow, KeyRow } from '../../src/store/rows.js';

export const T0 = 1_700_000_000_000;
const rnd = () => randomBytes(6).toString('hex');

export function who(now = T0, actor = 'test'): Actor {
  return { actor, requestId: `req_${rnd()}`, now };
}

export function newKey(over: Partial<NewKey> = {}): NewKey {
  const id = over.id ?? `key_${rnd()}`;
  return {
    id,
    name: `name ${id}`,
    prefix: 'sk-test',
    hash: `hash_${id}`,
    createdAt: T0,
    expiresAt: null,
    allowedModels: null,
    rpmLimit: null,
    maxInflightJobs: null,
    ...over,
  };
}

/** A key with `balance` micro-USD credited. */
export async function fundedKey(store: Store, balance: number, over: Partial<NewKey> = {}): Promise<KeyRow> {
  return store.createKey(newKey(over), { who: who(), credit: { micros: balance, note: 'seed' } });
}

export function newJob(keyId: string, over: Partial<NewJob> = {}): NewJob {
  return {
    id: `job_${rnd()}`,
    keyId,
    kind: 'create',
    model: 'sora-2',
    size: '720x1280',
    requestedSeconds: 4,
    sourceVideoId: null,
    rateMicros: 100_000,
    flatPriceMicros: null,
    heldMicros: 400_000,
    requestId: `req_${rnd()}`,
    ...over,
  };
}

/** Places a hold that must succeed and returns the pending job. */
export async function heldJob(store: Store, keyId: string, over: Partial<NewJob> = {}, now = T0): Promise<JobRow> {
  const r = await store.placeHold(newJob(keyId, over), who(now), { maxInflightJobs: null });
  if (!r.ok) throw new Error(`hold refused: ${r.reason}`);
  return r.job;
}

/** A held job the upstream accepted (queued, with a video id). */
export async function submittedJob(store: Store, keyId: string, over: Partial<NewJob> = {}, now = T0, nextPollAt = now + 1000): Promise<JobRow> {
  const job = await heldJob(store, keyId, over, now);
  const row = await store.recordSubmitted(job.id, { videoId: `video_${job.id}`, status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt }, now);
  if (!row || row === 'duplicate') throw new Error('recordSubmitted failed');
  return row;
}

export interface LedgerEntry {
  kind: string;
  amountMicros: number;
  keyId: string;
  jobId: string | null;
  terminal: boolean;
  requestId: string | null;
  actor: string;
  note: string | null;
  createdAt: number;
}

/** Ledger rows under the store, normalised (SQLite gives 0/1 and numbers, node-postgres booleans and bigint strings). */
export async function ledgerWhere(os: OpenStore, where: string, params: unknown[]): Promise<LedgerEntry[]> {
  const rows = await os.sql(
    `select kind, amount_micros, key_id, job_id, terminal, request_id, actor, note, created_at from ledger where ${where} order by seq`,
    params,
  );
  return rows.map((r) => ({
    kind: r.kind as string,
    amountMicros: Number(r.amount_micros),
    keyId: r.key_id as string,
    jobId: (r.job_id as string | null) ?? null,
    terminal: Boolean(r.terminal),
    requestId: (r.request_id as string | null) ?? null,
    actor: r.actor as string,
    note: (r.note as string | null) ?? null,
    createdAt: Number(r.created_at),
  }));
}

export const ledgerOfJob = (os: OpenStore, jobId: string) => ledgerWhere(os, 'job_id = ?', [jobId]);
export const ledgerOfKey = (os: OpenStore, keyId: string) => ledgerWhere(os, 'key_id = ?', [keyId]);

export async function countRows(os: OpenStore, table: string, where = '1 = 1', params: unknown[] = []): Promise<number> {
  const [row] = await os.sql(`select count(*) as n from ${table} where ${where}`, params);
  return Number(row.n);
}

/** balance and held of a key, read fresh. */
export async function money(store: Store, keyId: string): Promise<{ balance: number; held: number }> {
  const k = await store.getKey(keyId);
  if (!k) throw new Error(`no key ${keyId}`);
  return { balance: k.balanceMicros, held: k.heldMicros };
}
