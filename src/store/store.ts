import type { KeyRow, JobRow, LedgerRow, AuditRow, CharacterRow, StoredRequestLogRow, RequestLogRow, InstanceRow, AdminSessionRow, WebhookAttemptRow, WebhookEventRow, WebhookEventStatus, ArchiveTaskRow, UpstreamHealthRow } from './rows.js';
import type { CreateResult } from '../relay/health.js';
import type { Actor, ClaimResult, HoldResult, NewJob, NewKey, KeyPatch, NewWebhookSecret, Outcome, SettleResult, UpdatedKey } from './types.js';
import type { KeySearch } from '../db/keys-store.js';
import type {
  AdminJobQuery, AdminLedgerQuery, JobCursor, LedgerWithVideo, UsageFilter, UsageGroupBy, UsageGroupRow, UsageRow,
  RequestLogQuery, DaySpend, KeySpend, ModelDayHealth, TimeRange,
} from './queries.js';

/**
 * The storage seam: every query the application makes, as whole units of work, all async so that
 * an engine on the network (PostgreSQL) fits behind it as well as the embedded one (SQLite).
 * Routes and domain code only ever see this interface; only `src/db/` knows SQL.
 */

/** An admin change and the audit entry that records it, written in one transaction. */
export interface AuditEntry {
  action: string;
  targetId: string | null;
  details: unknown;
}

export interface KeysStore {
  /**
   * Creates a key, with its initial credit and its audit entry when given, as one transaction.
   * Throws BalanceError when the credit is refused; then nothing is written. A key created with a
   * webhook URL gets `webhookSecret` as its signing secret (returned as `issuedWebhookSecret`).
   */
  createKey(
    key: NewKey,
    with_?: { who: Actor; credit?: { micros: number; note: string | null }; audit?: AuditEntry; webhookSecret?: NewWebhookSecret },
  ): Promise<UpdatedKey>;
  findKeyByHash(hash: string): Promise<KeyRow | undefined>;
  /** The key for authentication; may be served from a short-lived cache (KEY_AUTH_CACHE_MS). */
  findKeyForAuth(hash: string): Promise<KeyRow | undefined>;
  getKey(id: string): Promise<KeyRow | undefined>;
  listKeys(opts: { after?: string; limit: number }): Promise<KeyRow[]>;
  /** Every key's id and name (the dashboard's key pickers). */
  listKeyNames(): Promise<{ id: string; name: string; revokedAt: number | null }[]>;
  /** The dashboard's keys list: search, sort, offset paging, with the total. */
  searchKeys(s: KeySearch): Promise<{ rows: KeyRow[]; total: number }>;
  /** A fresh read of what a key can still spend and how many jobs it has open (early refusal). */
  keyHeadroom(keyId: string, countOpenJobs: boolean): Promise<{ availableMicros: number; openJobs: number }>;
  /**
   * Changes a key; with `audit`, its audit entry is written in the same transaction. A patch that
   * sets `webhookUrl` on a key without a current webhook secret stores `webhookSecret` (returned as
   * `issuedWebhookSecret`: shown once); one that sets it to null drops the key's secrets.
   */
  updateKey(id: string, patch: KeyPatch, audit?: { who: Actor; entry: AuditEntry }, webhookSecret?: NewWebhookSecret): Promise<UpdatedKey | undefined>;
  revokeKey(id: string, now: number, audit?: { who: Actor; entry: AuditEntry }): Promise<KeyRow | undefined>;
  /** Last-use times, written in one batch. */
  touchKeys(lastUsed: Map<string, number>): Promise<void>;
}

export interface BillingStore {
  /** Reserves the price on the key and writes the pending job, or refuses (never overdraws). */
  placeHold(job: NewJob, who: Actor, limits: { maxInflightJobs: number | null }): Promise<HoldResult>;
  recordSubmitted(
    jobId: string,
    s: { videoId: string; status: 'queued' | 'in_progress'; progress: number | null; upstreamRequestId: string | null; nextPollAt: number },
    now: number,
  ): Promise<JobRow | 'duplicate' | undefined>;
  /** The one settle function: compare-and-set on the status, ledger entries in the same transaction. */
  settleJob(jobId: string, outcome: Outcome, who: Actor): Promise<SettleResult>;
  recordLateCompletion(jobId: string, s: { billedSeconds: number; outputSeconds: number | null; finalObject: string; completedAt: number }, now: number): Promise<void>;
  /** A top-up (positive) or adjustment (negative); with `audit`, its audit entry in the same transaction. */
  appendCredit(keyId: string, amountMicros: number, note: string | null, who: Actor, audit?: AuditEntry): Promise<LedgerRow>;
}

export interface JobsStore {
  getJob(id: string): Promise<JobRow | undefined>;
  /**
   * A job by its video id. Video ids are unique per upstream, not globally: with `keyId`, only that
   * key's jobs are looked at (what every /v1 call does); without it (admin look-ups), the newest.
   */
  getJobByVideoId(videoId: string, keyId?: string): Promise<JobRow | undefined>;
  /** The key's job for a /v1 request on a video id; may be served from a short-lived cache. */
  getJobForRequest(keyId: string, videoId: string): Promise<JobRow | undefined>;
  listVideosForKeys(keyIds: string[], opts: { after?: JobRow; limit: number; order: 'asc' | 'desc' }): Promise<JobRow[]>;
  recordProgress(jobId: string, s: { status: 'queued' | 'in_progress'; progress: number | null; nextPollAt: number }, now: number): Promise<void>;
  /** Moves a job's next poll on; may be batched (flushPollSchedule writes the batch). */
  deferPollSchedule(jobId: string, nextPollAt: number, now: number): Promise<void>;
  flushPollSchedule(now: number): Promise<void>;
  recordPollFailure(jobId: string, nextPollAt: number, now: number): Promise<void>;
  /** Counts a 404 (only when spaced at least `spacingMs` from the last); returns the count. */
  recordNotFound(jobId: string, now: number, spacingMs: number, nextPollAt: number): Promise<number>;
  markDeleted(jobId: string, now: number): Promise<void>;
  jobsDueForPoll(now: number, limit: number): Promise<JobRow[]>;
  openJobsCreatedBefore(at: number, limit: number): Promise<JobRow[]>;
  openHoldTotals(): Promise<{ jobs: number; heldMicros: number }>;
  countOpenJobsDue(now: number): Promise<number>;
}

export interface IdempotencyStore {
  /**
   * Claims (keyId, idemKey) for a request served by `instanceId`, or returns the live record that
   * holds it. A record older than `expiredBefore` is replaced, and so is an in-flight claim whose
   * instance is dead (stopped, unknown, or no heartbeat since `deadBefore`): its request died with it,
   * perhaps after forwarding, so that claim comes back with `abandoned: true`.
   * A claim of `instanceId` itself is always alive (a process knows it is running).
   */
  claimIdempotencyKey(r: { keyId: string; idemKey: string; route: string; bodyHash: string; now: number; expiredBefore: number; instanceId: string; deadBefore: number }): Promise<ClaimResult>;
  /**
   * Records the answer to replay. With `holder`, only while the claim is still that instance's and
   * in flight: a claim taken over meanwhile (its instance was thought dead) belongs to the request
   * that took it, and a late answer must not overwrite or free it.
   */
  completeIdempotencyKey(keyId: string, idemKey: string, res: { status: number; headers: Record<string, string>; body: string }, holder?: string): Promise<void>;
  /** Frees the key when nothing was created; with `holder`, only the in-flight claim of that instance. */
  releaseIdempotencyKey(keyId: string, idemKey: string, holder?: string): Promise<void>;
  /** Whether a live record holds (keyId, idemKey) since `since`. */
  hasIdempotencyRecord(keyId: string, idemKey: string, since: number): Promise<boolean>;
  purgeIdempotencyKeys(before: number): Promise<number>;
}

export interface RequestLogStore {
  insertRequestLogBatch(rows: RequestLogRow[]): Promise<void>;
  searchRequestLog(q: RequestLogQuery): Promise<StoredRequestLogRow[]>;
  /** Deletes at most `limit` rows older than `before`; returns how many. */
  deleteRequestLogBefore(before: number, limit: number): Promise<number>;
}

export interface AuditStore {
  appendAudit(e: { actor: string; action: string; targetId: string | null; requestId: string | null; details: unknown; now: number }): Promise<void>;
  listAudit(opts: { beforeSeq?: number; limit: number }): Promise<AuditRow[]>;
  auditSeqOf(id: string): Promise<number | undefined>;
  auditActions(): Promise<string[]>;
  searchAudit(q: { targetId?: string; action?: string; from?: number; to?: number; beforeSeq?: number; limit: number }): Promise<AuditRow[]>;
}

export interface CharactersStore {
  /** `upstreamId` defaults to 'default'. */
  recordCharacter(c: Omit<CharacterRow, 'upstreamId'> & { upstreamId?: string }): Promise<void>;
  /** Character ids are unique per upstream: with `keyId`, only that key's character (what /v1 asks). */
  getCharacter(id: string, keyId?: string): Promise<CharacterRow | undefined>;
}

export interface ReportsStore {
  findJobByAnyId(id: string): Promise<JobRow | undefined>;
  listAdminJobs(q: AdminJobQuery): Promise<JobRow[]>;
  listAdminLedger(q: AdminLedgerQuery): Promise<LedgerWithVideo[]>;
  ledgerSeqOf(id: string): Promise<number | undefined>;
  /** A key's balance and available amount as of ledger entry `uptoSeq` (running balances). */
  ledgerTotalsUpTo(keyId: string, uptoSeq: number): Promise<{ balanceMicros: number; availableMicros: number }>;
  jobLedgerEntries(jobId: string): Promise<LedgerRow[]>;
  requestLogForJob(job: { requestId: string; videoId: string | null }, limit: number): Promise<StoredRequestLogRow[]>;
  findRequestsByAnyId(id: string, opts: { afterSeq?: number; limit: number }): Promise<StoredRequestLogRow[]>;
  usageExportPage(f: UsageFilter, after: JobCursor | undefined, limit: number): Promise<UsageRow[]>;
  usageSummary(f: UsageFilter, groupBy: UsageGroupBy): Promise<UsageGroupRow[]>;
  spendPerDay(r: TimeRange): Promise<DaySpend[]>;
  keySpendPerDay(keyId: string, r: TimeRange): Promise<DaySpend[]>;
  jobsByStatus(r: TimeRange): Promise<{ status: string; n: number }[]>;
  topKeysBySpend(r: TimeRange, limit: number): Promise<KeySpend[]>;
  openHolds(limit: number): Promise<{ jobs: JobRow[]; count: number; heldMicros: number }>;
  keyTotals(now: number): Promise<{ keys: number; active: number; balanceMicros: number; heldMicros: number }>;
  modelHealth(r: TimeRange): Promise<ModelDayHealth[]>;
  findJobByCreateRequestId(id: string): Promise<JobRow | undefined>;
  heldMicrosTotal(): Promise<number>;
  reconcilerLagMs(now: number): Promise<number>;
  /**
   * The ledger invariants that do not hold, as human-readable messages (empty when all hold), read
   * straight from the tables in one consistent snapshot, independently of the code that writes
   * them. Used by the tests after every money path and by `reelay db copy` to verify a copy.
   * Per key (keys in id order): balance = credits − adjustments − captures; held = holds −
   * captures − releases; available (balance − held) ≥ 0; balance ≥ 0. Per job (jobs in id
   * order): its hold entries equal its held amount; at most one terminal entry; an open job
   * (pending, queued, in_progress) has no capture or release; a settled job that held money has
   * its hold fully resolved (captures + releases = held) and exactly one terminal entry; its
   * captures equal its charged amount; only a completed job is charged.
   * The messages are the same on every engine for the same data.
   */
  ledgerViolations(): Promise<string[]>;
}

/**
 * Several processes on one database: instance liveness and the reconciler's leases. The results of
 * a poll (recordProgress, recordPollFailure, recordNotFound, and the deferred schedule moves that
 * flushPollSchedule writes) end the job's lease.
 */
export interface CoordinationStore {
  /** Registers the instance on its first call, then refreshes its heartbeat. */
  heartbeat(instance: { id: string; host: string; pid: number; version: string; startedAt: number }, now: number): Promise<void>;
  /** A clean shutdown: the instance counts as dead from now on. */
  markInstanceStopped(id: string, now: number): Promise<void>;
  /**
   * A process starting under `id` (a stable INSTANCE_ID) takes over nothing from the process that
   * had the id before it: that one is gone, whether it stopped or crashed. Its pending creates,
   * in-flight Idempotency-Key claims (both made before `startedAt`) and reconciler leases are
   * disowned (their instance set to none), so every instance treats them as a dead instance's work
   * at once, exactly as if the new process had another name.
   */
  disownEarlierWork(id: string, startedAt: number): Promise<{ jobs: number; claims: number; leases: number }>;
  /** Every instance row, most recent heartbeat first. */
  listInstances(): Promise<InstanceRow[]>;
  /** Forgets instances stopped or silent since before `before` and holding no pending create. */
  purgeInstances(before: number): Promise<number>;
  /**
   * Pending creates whose instance is dead: stopped, silent since before `deadBefore`, unknown to
   * the instances table, or not recorded (rows from before instances existed). The caller's own
   * instance (`self`) is never dead to itself, but its own pending creates made before
   * `selfStaleBefore` are returned too: older than any create can take, so their request ended
   * without settling them (e.g. the database failed after the upstream answered).
   */
  pendingJobsOfDeadInstances(r: { deadBefore: number; self: string; selfStaleBefore: number; limit: number }): Promise<JobRow[]>;
  /**
   * Leases up to `limit` submitted open jobs whose poll is due (next_poll_at ≤ now) and that no
   * live instance holds (no lease, its lease ran out, or its holder is dead: stopped or silent
   * since `deadBefore`) to `instanceId` until `claimUntil`, most overdue first. Two live instances
   * never get the same job while its lease runs.
   */
  claimDueJobs(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): Promise<JobRow[]>;
}

/**
 * State that every instance on the database shares (design.md, "No process may assume it is
 * alone"): dashboard sessions, the admin login throttle and the per-key requests-per-minute
 * windows. Each unit is one statement or one short transaction.
 */
export interface SharedStateStore {
  /**
   * Stores a new dashboard session (its id is the SHA-256 of the cookie's token). In the same
   * transaction, drops the sessions expired at `now` and, when `maxSessions` would be exceeded,
   * the oldest ones.
   */
  createAdminSession(row: AdminSessionRow, maxSessions: number, now: number): Promise<void>;
  /** The session, unless it is unknown or expired at `now`. */
  getAdminSession(id: string, now: number): Promise<AdminSessionRow | undefined>;
  /** Replaces the session's flash messages (JSON text) and/or its reveal-once secret (sealed text). */
  updateAdminSession(id: string, patch: { flash?: string; revealOnce?: string | null }): Promise<void>;
  deleteAdminSession(id: string): Promise<void>;
  /** Deletes the sessions expired at `now`; returns how many. */
  purgeAdminSessions(now: number): Promise<number>;

  /** Records one wrong admin token from `address` at `now`. */
  recordAuthFailure(address: string, now: number): Promise<void>;
  /** The times of `address`'s most recent failures after `since`, at most `limit` of them, newest first. */
  recentAuthFailures(address: string, since: number, limit: number): Promise<number[]>;
  /** Deletes failures at or before `before`; returns how many. */
  purgeAuthFailures(before: number): Promise<number>;

  /**
   * Counts one request of `keyId` against `limitPerMinute`, atomically for every instance: a
   * sliding window of two one-minute buckets (the previous bucket weighted by how much of it the
   * window still covers). The request is counted only when allowed. Returns 0 when allowed, else
   * the whole seconds until the current bucket ends.
   */
  takeRateSlot(keyId: string, limitPerMinute: number, now: number): Promise<number>;
  /** Deletes windows that started before `before`; returns how many. */
  purgeRateWindows(before: number): Promise<number>;
}

/** One delivery attempt of a webhook event, as recorded. */
export interface WebhookAttempt {
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** What an attempt leaves the event as: delivered, pending a retry at `nextAttemptAt`, or given up. */
export type WebhookAttemptOutcome = { status: 'delivered' } | { status: 'pending'; nextAttemptAt: number } | { status: 'failed' };

export interface WebhookDeliveryQuery {
  keyId?: string;
  status?: WebhookEventStatus;
  /** The id of the last event of the previous page (newest first: by id, which begins with the creation time). */
  afterId?: string;
  limit: number;
}

export interface WebhookDelivery {
  event: WebhookEventRow;
  /** Oldest first. */
  attempts: WebhookAttemptRow[];
}

/**
 * Webhooks to clients (contract §12). Events are written by settleJob, in the settling
 * transaction; delivery workers of every instance lease them (claimDueWebhookEvents) as the
 * reconciler leases jobs, so each attempt is made by one instance, and a dead instance's leases
 * are taken over.
 */
export interface WebhooksStore {
  /** The key's webhook URL and the secrets that sign at `now` (the current one first). */
  webhookTarget(keyId: string, now: number): Promise<{ url: string | null; secrets: string[] }>;
  /**
   * `next` becomes the key's secret; the current one keeps signing until now + overlapMs. With
   * `audit`, in the same transaction. 'no_endpoint' when the key has no webhook URL.
   */
  rotateWebhookSecret(keyId: string, next: NewWebhookSecret, now: number, overlapMs: number, audit?: { who: Actor; entry: AuditEntry }): Promise<KeyRow | 'no_endpoint' | undefined>;
  /**
   * Leases up to `limit` pending events whose attempt is due and that no live instance holds (no
   * lease, its lease ran out, or its holder is dead: stopped or silent since `deadBefore`) to
   * `instanceId` until `claimUntil`, most overdue first.
   */
  claimDueWebhookEvents(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): Promise<WebhookEventRow[]>;
  /**
   * Records an attempt (always) and, in the same transaction, moves the event on: to delivered
   * (whoever holds it), or to its next attempt or failed (only while `instanceId` still holds the
   * lease). Ends the lease. Returns whether the event moved.
   */
  recordWebhookAttempt(eventId: string, instanceId: string, attempt: WebhookAttempt, outcome: WebhookAttemptOutcome): Promise<boolean>;
  /** Makes the event due now, whatever its status, with its retry schedule from the start; with `audit`, in the same transaction. */
  requeueWebhookEvent(eventId: string, now: number, audit?: { who: Actor; entry: AuditEntry }): Promise<WebhookEventRow | undefined>;
  getWebhookEvent(id: string): Promise<WebhookEventRow | undefined>;
  /** The event with its attempts. */
  getWebhookDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** Events newest first (created_at, then id), each with its attempts. */
  listWebhookDeliveries(q: WebhookDeliveryQuery): Promise<WebhookDelivery[]>;
}

/** What an archive worker may change on a task it holds (see ArchiveStore.updateArchiveTask). */
export interface ArchiveTaskPatch {
  state?: 'pending' | 'archived' | 'failed';
  variants?: string;
  bytes?: number;
  attempts?: number;
  nextAttemptAt?: number;
  lastError?: string | null;
  archivedAt?: number | null;
  /** A new lease end; null releases the lease (with claimedBy). */
  claimUntil?: number | null;
  release?: boolean;
}

/**
 * The archive's outbox (contract §11). Tasks are written by settleJob (a completed job with an
 * `archive` order) in the settlement's transaction; workers on any instance lease them.
 */
export interface ArchiveStore {
  /**
   * Leases up to `limit` pending tasks that are due (next_attempt_at ≤ now) and that no live
   * instance holds (no lease, its lease ran out, or its holder is dead: stopped or silent since
   * `deadBefore`) to `instanceId` until `claimUntil`, oldest due first. Two live instances never
   * get the same task while its lease runs.
   */
  claimArchiveTasks(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): Promise<ArchiveTaskRow[]>;
  /**
   * Changes a pending task that `holder` leases; false (nothing changed) when the task is no longer
   * pending (deleted meanwhile) or no longer that holder's.
   */
  updateArchiveTask(jobId: string, holder: string, patch: ArchiveTaskPatch, now: number): Promise<boolean>;
  getArchiveTask(jobId: string): Promise<ArchiveTaskRow | undefined>;
  getArchiveTasks(jobIds: string[]): Promise<ArchiveTaskRow[]>;
  /**
   * Marks the task deleted (DELETE of the video, or retention) and drops its lease. Returns the
   * task as it was when this call deleted it, undefined when there is none or it was deleted already.
   */
  markArchiveDeleted(jobId: string, now: number): Promise<ArchiveTaskRow | undefined>;
  /** The stored objects of a deleted task are gone. */
  markArchivePurged(jobId: string, now: number): Promise<void>;
  /**
   * Up to `limit` tasks whose stored objects must go: deleted but not purged, or (any other state)
   * of a job completed before `completedBefore` (past ARCHIVE_RETENTION_DAYS).
   */
  archiveTasksToPurge(completedBefore: number, limit: number): Promise<ArchiveTaskRow[]>;
  /** Tasks still to be copied (state pending). */
  archiveQueueLength(): Promise<number>;
}

/**
 * Several upstreams (contract §10): each one's health, shared by every instance (a row appears once
 * something happened to it), and the open jobs that fill its max_inflight_jobs.
 */
export interface UpstreamsStore {
  listUpstreamHealth(): Promise<UpstreamHealthRow[]>;
  /** Applies a create's result to the upstream's row in one transaction (see src/relay/health.ts). */
  recordUpstreamCreate(id: string, result: CreateResult, now: number): Promise<UpstreamHealthRow>;
  /** Claims the one trial create after a cooldown until `until`; false when cooling or another instance has it. */
  claimUpstreamTrial(id: string, now: number, until: number): Promise<boolean>;
  /** An admin's enable/disable (null: back to the file's setting), with its audit entry, in one transaction. */
  setUpstreamEnabled(id: string, enabled: boolean | null, who: Actor, audit: AuditEntry): Promise<UpstreamHealthRow>;
  /** Open jobs (pending, queued, in progress) per upstream. */
  openJobsByUpstream(): Promise<{ upstreamId: string; n: number }[]>;
  /**
   * Moves a pending job to `upstreamId` if that upstream has fewer than `maxInflightJobs` other open
   * jobs (null: no limit), atomically across instances. False when full (or the job is not pending).
   */
  assignJobUpstream(jobId: string, upstreamId: string, maxInflightJobs: number | null, now: number): Promise<boolean>;
  /** Jobs each upstream took since `since` (not counting creates it refused), and how many failed, expired or ended unknown. */
  upstreamJobStats(since: number): Promise<{ upstreamId: string; jobs: number; failed: number }[]>;
  /**
   * How long the completed jobs created since `since` took (completed_at − created_at, ms), per
   * upstream, the most recent `limit` of them in all (a bound on what one admin view reads).
   */
  upstreamCompletionTimes(since: number, limit: number): Promise<{ upstreamId: string; ms: number }[]>;
}

export interface Store extends WebhooksStore, ArchiveStore, UpstreamsStore, CoordinationStore, SharedStateStore, KeysStore, BillingStore, JobsStore, IdempotencyStore, RequestLogStore, AuditStore, CharactersStore, ReportsStore {
  /** Cheap liveness probe for /healthz: resolves true, or rejects when the database is unreachable. */
  ping(): Promise<boolean>;
}
