import type { KeyRow, JobRow, LedgerRow, AuditRow, CharacterRow, StoredRequestLogRow, RequestLogRow, InstanceRow, AdminSessionRow, UpstreamHealthRow } from './rows.js';
import type { CreateResult } from '../relay/health.js';
import type { Actor, ClaimResult, HoldResult, NewJob, NewKey, KeyPatch, Outcome, SettleResult } from './types.js';
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
   * Throws BalanceError when the credit is refused; then nothing is written.
   */
  createKey(key: NewKey, with_?: { who: Actor; credit?: { micros: number; note: string | null }; audit?: AuditEntry }): Promise<KeyRow>;
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
  /** Changes a key; with `audit`, its audit entry is written in the same transaction. */
  updateKey(id: string, patch: KeyPatch, audit?: { who: Actor; entry: AuditEntry }): Promise<KeyRow | undefined>;
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
   * instance is dead (stopped, unknown, or no heartbeat since `deadBefore`): its request died with it.
   * A claim of `instanceId` itself is always alive (a process knows it is running).
   */
  claimIdempotencyKey(r: { keyId: string; idemKey: string; route: string; bodyHash: string; now: number; expiredBefore: number; instanceId: string; deadBefore: number }): Promise<ClaimResult>;
  completeIdempotencyKey(keyId: string, idemKey: string, res: { status: number; headers: Record<string, string>; body: string }): Promise<void>;
  releaseIdempotencyKey(keyId: string, idemKey: string): Promise<void>;
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

export interface Store extends UpstreamsStore, CoordinationStore, SharedStateStore, KeysStore, BillingStore, JobsStore, IdempotencyStore, RequestLogStore, AuditStore, CharactersStore, ReportsStore {
  /** Cheap liveness probe for /healthz: resolves true, or rejects when the database is unreachable. */
  ping(): Promise<boolean>;
}
