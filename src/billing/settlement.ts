import type { Store } from '../db/store.js';
import type { JobRow, Outcome, SettleResult } from '../db/billing-store.js';
import { parseSeconds } from './catalog.js';
import type { Logger } from '../logging/logger.js';

/**
 * Turns what the upstream says about a job into state changes and settlements. Client polls and
 * the reconciler both go through `observe`, so whoever sees the news first settles the job and the
 * other does nothing (settleJob is compare-and-set).
 */
export type Observation =
  | { type: 'object'; object: VideoObject; raw: string }
  | { type: 'not_found' }
  | { type: 'transient'; retryAfterMs: number | null };

export interface VideoObject {
  id?: unknown;
  status?: unknown;
  progress?: unknown;
  seconds?: unknown;
  completed_at?: unknown;
  error?: { code?: unknown } | null;
}

export interface PollTiming {
  /** Earliest re-poll of an in-progress job. */
  minPollMs: number;
  /** Latest re-poll of an in-progress job. */
  maxPollMs: number;
  /** Upper bound of the backoff after transient failures. */
  maxBackoffMs: number;
  /** 404s count towards "vanished" only when at least this far apart. */
  notFoundSpacingMs: number;
  /** This many spaced 404s in a row and the job is expired. */
  notFoundLimit: number;
}

export const DEFAULT_POLL_TIMING: PollTiming = {
  minPollMs: 2000,
  maxPollMs: 60_000,
  maxBackoffMs: 5 * 60_000,
  notFoundSpacingMs: 60_000,
  notFoundLimit: 3,
};

export function parseVideoObject(raw: string): VideoObject | null {
  try {
    const v = JSON.parse(raw) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as VideoObject) : null;
  } catch {
    return null;
  }
}

/** Longest video length reelay accepts from an upstream for a stitched (extended) video: a day. */
const MAX_OUTPUT_SECONDS = 86_400;

/** A positive whole number of seconds (number or numeric string), else undefined. */
function positiveSeconds(value: unknown): number | undefined {
  const n = parseSeconds(value);
  return n !== undefined && n >= 1 ? n : undefined;
}

/**
 * What a completed job is billed for, checked: the upstream's `seconds` must be a positive whole
 * number no larger than the model allows (or than was requested, for a remix of a long video);
 * anything else (negative, zero, 1e15, garbage) is replaced by the requested seconds, which the
 * hold covered. Extensions bill their own segment, not the stitched total.
 */
export function billedSecondsOf(job: JobRow, object: VideoObject, maxSecondsOfModel?: number): { seconds: number; trusted: boolean } {
  if (job.kind === 'extension') return { seconds: job.requestedSeconds, trusted: true };
  const reported = positiveSeconds(object.seconds);
  const limit = Math.max(maxSecondsOfModel ?? job.requestedSeconds, job.requestedSeconds);
  if (reported === undefined || reported > limit) return { seconds: job.requestedSeconds, trusted: false };
  return { seconds: reported, trusted: true };
}

/** The finished video's whole length: for an extension the stitched length the upstream reports. */
export function outputSecondsOf(job: JobRow, object: VideoObject, billedSeconds: number): number | null {
  if (job.kind !== 'extension') return billedSeconds;
  const reported = positiveSeconds(object.seconds);
  return reported !== undefined && reported <= MAX_OUTPUT_SECONDS ? reported : null;
}

/** Earliest plausible completion time (2000-01-01) and how far ahead of our clock one may be. */
const MIN_COMPLETED_AT_S = 946_684_800;
const COMPLETED_AT_SKEW_MS = 24 * 3600_000;

/** The upstream's `completed_at` (unix seconds) in ms, or `now` when it is missing or out of range. */
export function completedAtOf(object: VideoObject, now: number): number {
  const v = object.completed_at;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < MIN_COMPLETED_AT_S) return now;
  const ms = Math.round(v * 1000);
  return ms > now + COMPLETED_AT_SKEW_MS ? now : ms;
}

/** Statuses that mean "still working" although OpenAI's API only says queued / in_progress. */
const STILL_WORKING = new Set(['pending', 'processing', 'running', 'starting', 'submitted', 'preprocessing']);

function progressOf(object: VideoObject): number | null {
  return typeof object.progress === 'number' && Number.isFinite(object.progress) ? Math.round(object.progress) : null;
}

/** Told of each job settled, once, after its transaction committed (e.g. for metrics). */
export type OnSettled = (s: { outcome: Outcome['kind']; upstreamId: string; heldMicros: number; chargedMicros: number }) => void;

export interface SettlementHooks {
  /** Told of every settlement that happened (once per job): the metrics count them. */
  onSettled?: OnSettled;
  /** The longest `seconds` a model allows (from the price catalog); bounds what an upstream may bill. */
  maxSecondsOf?: (model: string) => number | undefined;
  /** Told when a settlement wrote a webhook event (after the commit): the delivery worker looks at once. */
  onWebhookEvent?: (eventId: string) => void;
  /** The archive is on: a completion writes the job's archive task in its settlement (contract §11). */
  archive?: boolean;
}

/** How long an upstream keeps a finished video when its object does not say (`expires_at`): a day. */
export const DEFAULT_UPSTREAM_RETENTION_MS = 24 * 3600_000;

/** Until when the upstream keeps a completed job's content: its `expires_at`, else a day after completion. */
export function upstreamExpiresAtOf(object: { expires_at?: unknown }, completedAt: number): number {
  const v = object.expires_at;
  if (typeof v === 'number' && Number.isFinite(v) && v * 1000 > completedAt) return Math.min(Math.round(v * 1000), completedAt + 30 * DEFAULT_UPSTREAM_RETENTION_MS);
  return completedAt + DEFAULT_UPSTREAM_RETENTION_MS;
}

export class Settlement {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly timing: PollTiming = DEFAULT_POLL_TIMING,
    private readonly hooks: SettlementHooks = {},
  ) {}

  /**
   * How long to wait before looking at an in-progress job again: a tenth of its age, from
   * minPollMs (young jobs) up to maxPollMs. The reconciler's schedule, and the `openai-poll-after-ms`
   * hint a client's poll gets.
   */
  pollIntervalMs(job: Pick<JobRow, 'createdAt'>, now = this.now()): number {
    const age = Math.max(0, now - job.createdAt);
    return Math.min(this.timing.maxPollMs, Math.max(this.timing.minPollMs, Math.round(age / 10)));
  }

  /** When to look at an in-progress job again (see pollIntervalMs). */
  nextPollAt(job: Pick<JobRow, 'createdAt'>): number {
    const now = this.now();
    return now + this.pollIntervalMs(job, now);
  }

  backoffAt(job: Pick<JobRow, 'pollFailures'>, retryAfterMs: number | null): number {
    const exp = Math.min(this.timing.maxBackoffMs, this.timing.minPollMs * 2 ** Math.min(job.pollFailures + 1, 16));
    return this.now() + Math.max(exp, retryAfterMs ?? 0);
  }

  async settle(job: JobRow, outcome: Outcome, actor: string, requestId: string | null): Promise<SettleResult> {
    const result = await this.store.settleJob(job.id, outcome, { actor, requestId, now: this.now() });
    if (result.settled) {
      this.logger.info(
        { job_id: job.id, video_id: job.videoId, key_id: job.keyId, outcome: outcome.kind, charged_micros: result.chargedMicros, request_id: requestId },
        'job settled',
      );
      this.hooks.onSettled?.({ outcome: outcome.kind, upstreamId: result.job.upstreamId, heldMicros: result.job.heldMicros, chargedMicros: result.chargedMicros });
      if (result.webhookEventId) this.hooks.onWebhookEvent?.(result.webhookEventId);
    }
    return result;
  }

  /** Applies one observation of an upstream job. Returns the job row as it stands afterwards. */
  async observe(job: JobRow, obs: Observation, actor: string, requestId: string | null): Promise<JobRow> {
    const now = this.now();
    switch (obs.type) {
      case 'transient':
        await this.store.recordPollFailure(job.id, this.backoffAt(job, obs.retryAfterMs), now);
        return job;
      case 'not_found': {
        if (job.status !== 'queued' && job.status !== 'in_progress') return job;
        const count = await this.store.recordNotFound(job.id, now, this.timing.notFoundSpacingMs, now + this.timing.notFoundSpacingMs);
        if (count >= this.timing.notFoundLimit) {
          return (await this.settle(job, { kind: 'expired', reason: 'vanished' }, actor, requestId)).job ?? job;
        }
        return job;
      }
      case 'object': {
        const { object, raw } = obs;
        const status = object.status;
        if (status === 'completed') {
          const completedAt = completedAtOf(object, now);
          const billed = billedSecondsOf(job, object, this.hooks.maxSecondsOf?.(job.model));
          if (!billed.trusted) {
            this.logger.warn(
              { incident: 'upstream_seconds_out_of_range', job_id: job.id, video_id: job.videoId, upstream_seconds: String(object.seconds).slice(0, 40) },
              'the upstream reported an impossible length; billed at the requested seconds (the hold caps the charge)',
            );
          }
          const outputSeconds = outputSecondsOf(job, object, billed.seconds);
          const done = { billedSeconds: billed.seconds, outputSeconds, finalObject: raw, completedAt };
          const archive = this.hooks.archive ? { upstreamExpiresAt: upstreamExpiresAtOf(object as { expires_at?: unknown }, completedAt) } : undefined;
          if (job.status === 'expired') {
            await this.store.recordLateCompletion(job.id, done, now);
            this.logger.warn({ job_id: job.id, video_id: job.videoId }, 'completion seen after the job expired: recorded, not charged');
            return job;
          }
          return (await this.settle(job, { kind: 'completed', ...done, archive }, actor, requestId)).job ?? job;
        }
        if (status === 'queued' || status === 'in_progress') {
          const progress = progressOf(object);
          const unchanged = status === job.status && progress === job.progress && job.pollFailures === 0 && job.notFoundCount === 0 && job.lastNotFoundAt === null;
          if (unchanged) {
            // Nothing new: no statement while the job is not yet due for a poll, and once it is,
            // only its schedule moves on, written in a batch (see deferPollSchedule).
            if (job.nextPollAt === null || job.nextPollAt <= now) await this.store.deferPollSchedule(job.id, this.nextPollAt(job), now);
            return job;
          }
          await this.store.recordProgress(job.id, { status, progress, nextPollAt: this.nextPollAt(job) }, now);
          return job;
        }
        if (typeof status !== 'string' || STILL_WORKING.has(status)) {
          // No status, or another word for "not finished yet": keep the job open, look again later.
          await this.store.recordPollFailure(job.id, this.backoffAt(job, null), now);
          return job;
        }
        // `failed`, or a terminal status this contract does not know (`cancelled`, …): the job
        // ended without a video, so its hold is released rather than kept open for a day.
        if (status !== 'failed') {
          this.logger.warn({ incident: 'upstream_unknown_status', job_id: job.id, upstream_status: String(status).slice(0, 40) }, 'unknown terminal status counted as failed');
        }
        const code = object.error && typeof object.error === 'object' && typeof object.error.code === 'string' ? object.error.code.slice(0, 100) : status === 'failed' ? null : 'upstream_status_unknown';
        return (await this.settle(job, { kind: 'failed', finalObject: raw, errorCode: code }, actor, requestId)).job ?? job;
      }
    }
  }
}
