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
  webhookUrl?: string | null;
}

export type KeyPatch = Partial<Pick<KeyRow, 'name' | 'expiresAt' | 'disabled' | 'allowedModels' | 'rpmLimit' | 'maxInflightJobs' | 'maxConcurrentDownloads' | 'webhookUrl'>>;

/** A webhook signing secret to store when a key gets its first webhook URL (or a rotation's new one). */
export interface NewWebhookSecret {
  id: string;
  secret: string;
}

/** A key as a change left it; `issuedWebhookSecret` when this change gave the key its (first) webhook secret. */
export type UpdatedKey = KeyRow & { issuedWebhookSecret?: string };

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

/** What settleJob needs to write a completed job's archive task. */
export interface ArchiveOrder {
  /** Until when the upstream keeps its copy (the task fails if it cannot copy it by then). */
  upstreamExpiresAt: number;
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
  | {
      kind: 'completed';
      billedSeconds: number;
      /** the whole video's length; defaults to billedSeconds */
      outputSeconds?: number | null;
      finalObject: string;
      completedAt: number;
      /** When set, the job's archive task is written in the same transaction (contract §11). */
      archive?: ArchiveOrder;
    }
  | { kind: 'failed'; finalObject: string | null; errorCode: string | null }
  | { kind: 'expired'; reason: string }
  | { kind: 'rejected'; errorCode: string | null }
  | { kind: 'unknown'; reason: string };

/**
 * `webhookEventId`: the webhook event written in the settling transaction (the key had a webhook
 * URL and the outcome sends one, contract §12), else null.
 */
export type SettleResult = { settled: true; job: JobRow; chargedMicros: number; webhookEventId: string | null } | { settled: false; job: JobRow | undefined };

/**
 * `abandoned`: the key was taken over from a request whose instance died while it was in flight.
 * That request may have reached the upstream, so its outcome is unknown: the new claimant answers
 * the unknown outcome (and keeps it as the key's answer) rather than forwarding a second create.
 */
export type ClaimResult = { claimed: true; abandoned?: true } | { claimed: false; existing: IdempotencyRow };

/** A credit or adjustment the balance cannot take (overdraft, or beyond what a balance may hold). */
export class BalanceError extends Error {}
