import type { JobKind, JobRow, KeyRow, IdempotencyRow } from './rows.js';

/** Plain domain types of the store's units of work, shared by both engines. */

export interface NewKey {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  maxInflightJobs: number | null;
  maxConcurrentDownloads?: number | null;
}

export type KeyPatch = Partial<Pick<KeyRow, 'name' | 'expiresAt' | 'disabled' | 'allowedModels' | 'rpmLimit' | 'maxInflightJobs' | 'maxConcurrentDownloads'>>;

export interface NewJob {
  id: string;
  keyId: string;
  kind: JobKind;
  model: string;
  size: string;
  requestedSeconds: number;
  sourceVideoId: string | null;
  rateMicros: number;
  flatPriceMicros: number | null;
  heldMicros: number;
  requestId: string;
  /** The instance making the create (its pending job is taken over only once it is dead). */
  instanceId?: string | null;
  /** The upstream the create is sent to first (default 'default'); failover moves it with assignJobUpstream. */
  upstreamId?: string;
}

/** Who changes something, for which request, and when. */
export interface Actor {
  actor: string;
  requestId: string | null;
  now: number;
}

export type HoldResult = { ok: true; job: JobRow } | { ok: false; reason: 'insufficient_quota' | 'inflight_limit' | 'unknown_key' };

/** What ended a job. Every terminal path goes through settleJob with one of these. */
export type Outcome =
  | { kind: 'completed'; billedSeconds: number; /** the whole video's length; defaults to billedSeconds */ outputSeconds?: number | null; finalObject: string; completedAt: number }
  | { kind: 'failed'; finalObject: string | null; errorCode: string | null }
  | { kind: 'expired'; reason: string }
  | { kind: 'rejected'; errorCode: string | null }
  | { kind: 'unknown'; reason: string };

export type SettleResult = { settled: true; job: JobRow; chargedMicros: number } | { settled: false; job: JobRow | undefined };

export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRow };

/** A credit or adjustment the balance cannot take (overdraft, or beyond what a balance may hold). */
export class BalanceError extends Error {}
