/**
 * The rows the store hands out, as plain domain types that belong to neither engine. Times are
 * epoch milliseconds and money is integer micro-USD, as numbers, on both engines (PostgreSQL keeps
 * them as bigint and converts at the seam). Each engine's schema is checked against these types
 * at compile time (test/unit/store-rows.test.ts), so a column added to one side only fails `tsc`.
 */

export const OPEN_STATUSES = ['pending', 'queued', 'in_progress'] as const;
export const TERMINAL_STATUSES = ['completed', 'failed', 'expired', 'rejected', 'unknown'] as const;
export type JobStatus = (typeof OPEN_STATUSES)[number] | (typeof TERMINAL_STATUSES)[number];
export type JobKind = 'create' | 'remix' | 'edit' | 'extension';
export type LedgerKind = 'credit' | 'hold' | 'capture' | 'release' | 'adjustment';

export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  ownerId: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  disabled: boolean;
  revokedAt: number | null;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  maxInflightJobs: number | null;
  /** Concurrent content downloads this key may hold open; null means the configured default. */
  maxConcurrentDownloads: number | null;
  balanceMicros: number;
  heldMicros: number;
  /** Where the key's webhook events go (contract §12); null: none. */
  webhookUrl: string | null;
}

/**
 * One billable submission. `status` is reelay's view (see JobStatus); `videoId` comes from the
 * upstream's answer; `outputSeconds` is the finished video's whole length (for an extension the
 * stitched length), which remixes and edits of it are priced at.
 */
export interface JobRow {
  id: string;
  videoId: string | null;
  keyId: string;
  kind: string;
  model: string;
  size: string;
  requestedSeconds: number;
  billedSeconds: number | null;
  outputSeconds: number | null;
  sourceVideoId: string | null;
  status: string;
  progress: number | null;
  rateMicros: number;
  flatPriceMicros: number | null;
  heldMicros: number;
  chargedMicros: number;
  requestId: string;
  upstreamRequestId: string | null;
  finalObject: string | null;
  errorCode: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  settledAt: number | null;
  lateCompletedAt: number | null;
  deletedAt: number | null;
  nextPollAt: number | null;
  pollFailures: number;
  notFoundCount: number;
  lastNotFoundAt: number | null;
  /** The instance that made the create (a pending job is taken over only once it is dead). */
  instanceId: string | null;
  /** The reconciler's lease on the job's next poll. */
  claimedBy: string | null;
  claimUntil: number | null;
  /** The upstream that took the create (contract §10); its follow-ups all go there. */
  upstreamId: string;
}

export interface LedgerRow {
  seq: number;
  id: string;
  kind: LedgerKind;
  amountMicros: number;
  keyId: string;
  jobId: string | null;
  terminal: boolean;
  requestId: string | null;
  actor: string;
  note: string | null;
  createdAt: number;
}

export interface AuditRow {
  seq: number;
  id: string;
  actor: string;
  action: string;
  targetId: string | null;
  requestId: string | null;
  details: string | null;
  createdAt: number;
}

export interface CharacterRow {
  id: string;
  keyId: string;
  requestId: string;
  /** The upstream that created the character; reads of it go there. */
  upstreamId: string;
  createdAt: number;
}

export interface IdempotencyRow {
  keyId: string;
  idemKey: string;
  route: string;
  bodyHash: string;
  state: 'in_flight' | 'done';
  responseStatus: number | null;
  responseHeaders: string | null;
  responseBody: string | null;
  createdAt: number;
  instanceId: string | null;
}

export interface StoredRequestLogRow {
  seq: number;
  requestId: string;
  clientRequestId: string | null;
  upstreamRequestId: string | null;
  keyId: string | null;
  method: string;
  route: string;
  videoId: string | null;
  /** The upstream the request (or failover attempt) reached; null when none. */
  upstreamId: string | null;
  status: number;
  errorCode: string | null;
  durationMs: number;
  upstreamDurationMs: number | null;
  bytesIn: number;
  bytesOut: number;
  createdAt: number;
}

/** A request-log row as written (its `seq` comes from the database). */
export interface RequestLogRow {
  seq?: number;
  requestId: string;
  clientRequestId?: string | null;
  upstreamRequestId?: string | null;
  keyId?: string | null;
  method: string;
  route: string;
  videoId?: string | null;
  upstreamId?: string | null;
  status: number;
  errorCode?: string | null;
  durationMs: number;
  upstreamDurationMs?: number | null;
  bytesIn?: number;
  bytesOut?: number;
  createdAt: number;
}

/** A reelay process, as its instance row shows it. */
export interface InstanceRow {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: number;
  heartbeatAt: number;
  stoppedAt: number | null;
}

/** A dashboard session as stored (see src/db/schema/coordination.ts). */
export interface AdminSessionRow {
  id: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
  flash: string;
  revealOnce: string | null;
}

export type WebhookEventType = 'video.completed' | 'video.failed';
export type WebhookEventStatus = 'pending' | 'delivered' | 'failed';

/** A key's webhook signing secret; the current one has no expiry (see src/db/schema/webhooks.ts). */
export interface WebhookSecretRow {
  id: string;
  keyId: string;
  secret: string;
  createdAt: number;
  expiresAt: number | null;
}

/** A webhook event in the outbox (one per settled job at most). */
export interface WebhookEventRow {
  id: string;
  keyId: string;
  jobId: string;
  videoId: string;
  type: WebhookEventType;
  body: string;
  status: WebhookEventStatus;
  attemptCount: number;
  retryStep: number;
  nextAttemptAt: number | null;
  claimedBy: string | null;
  claimUntil: number | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** One delivery attempt of a webhook event. */
export interface WebhookAttemptRow {
  seq: number;
  eventId: string;
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  instanceId: string | null;
}

export const ARCHIVE_STATES = ['pending', 'archived', 'failed', 'deleted'] as const;
export type ArchiveState = (typeof ARCHIVE_STATES)[number];

/** A completed job's archive task (see src/db/schema/archive.ts). */
export interface ArchiveTaskRow {
  jobId: string;
  videoId: string;
  state: string;
  /** JSON: the variants stored so far (see ArchivedVariants in src/archive/variants.ts). */
  variants: string;
  bytes: number;
  attempts: number;
  nextAttemptAt: number;
  upstreamExpiresAt: number;
  completedAt: number;
  claimedBy: string | null;
  claimUntil: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  archivedAt: number | null;
  deletedAt: number | null;
  purgedAt: number | null;
}

/** An upstream's shared health (see src/db/schema/upstreams.ts). */
export interface UpstreamHealthRow {
  id: string;
  consecutiveFailures: number;
  cooldownUntil: number | null;
  /** The current cooldown's length; doubles with each failed trial, up to 10 minutes. */
  cooldownMs: number;
  /** A trial create after a cooldown is in flight until then (one instance claimed it). */
  trialUntil: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** An admin's override: false disabled, true enabled, null as the file says. */
  manualEnabled: boolean | null;
  manualBy: string | null;
  updatedAt: number;
}
