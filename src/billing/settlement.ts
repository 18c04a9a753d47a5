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

/** The seconds a completed job is billed for: extensions bill their own segment, not the stitched total. */
export function billedSecondsOf(job: JobRow, object: VideoObject): number {
  if (job.kind === 'extension') return job.requestedSeconds;
  return parseSeconds(object.seconds) ?? job.requestedSeconds;
}

function progressOf(object: VideoObject): number | null {
  return typeof object.progress === 'number' && Number.isFinite(object.progress) ? Math.round(object.progress) : null;
}

export class Settlement {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly timing: PollTiming = DEFAULT_POLL_TIMING,
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

  settle(job: JobRow, outcome: Outcome, actor: string, requestId: string | null): SettleResult {
    const result = this.store.settleJob(job.id, outcome, { actor, requestId, now: this.now() });
    if (result.settled) {
      this.logger.info(
        { job_id: job.id, video_id: job.videoId, key_id: job.keyId, outcome: outcome.kind, charged_micros: result.chargedMicros, request_id: requestId },
        'job settled',
      );
    }
    return result;
  }

  /** Applies one observation of an upstream job. Returns the job row as it stands afterwards. */
  observe(job: JobRow, obs: Observation, actor: string, requestId: string | null): JobRow {
    const now = this.now();
    switch (obs.type) {
      case 'transient':
        this.store.recordPollFailure(job.id, this.backoffAt(job, obs.retryAfterMs), now);
        return job;
      case 'not_found': {
        if (job.status !== 'queued' && job.status !== 'in_progress') return job;
        const count = this.store.recordNotFound(job.id, now, this.timing.notFoundSpacingMs, now + this.timing.notFoundSpacingMs);
        if (count >= this.timing.notFoundLimit) {
          return this.settle(job, { kind: 'expired', reason: 'vanished' }, actor, requestId).job ?? job;
        }
        return job;
      }
      case 'object': {
        const { object, raw } = obs;
        const status = object.status;
        if (status === 'completed') {
          const completedAt = typeof object.completed_at === 'number' ? object.completed_at * 1000 : now;
          const billedSeconds = billedSecondsOf(job, object);
          if (job.status === 'expired') {
            this.store.recordLateCompletion(job.id, { billedSeconds, finalObject: raw, completedAt }, now);
            this.logger.warn({ job_id: job.id, video_id: job.videoId }, 'completion seen after the job expired: recorded, not charged');
            return job;
          }
          return this.settle(job, { kind: 'completed', billedSeconds, finalObject: raw, completedAt }, actor, requestId).job ?? job;
        }
        if (status === 'failed') {
          const code = object.error && typeof object.error.code === 'string' ? object.error.code : null;
          return this.settle(job, { kind: 'failed', finalObject: raw, errorCode: code }, actor, requestId).job ?? job;
        }
        if (status === 'queued' || status === 'in_progress') {
          const progress = progressOf(object);
          const unchanged = status === job.status && progress === job.progress && job.pollFailures === 0 && job.notFoundCount === 0 && job.lastNotFoundAt === null;
          if (unchanged) {
            // Nothing new: no statement while the job is not yet due for a poll, and once it is,
            // only its schedule moves on, written in a batch (see deferPollSchedule).
            if (job.nextPollAt === null || job.nextPollAt <= now) this.store.deferPollSchedule(job.id, this.nextPollAt(job), now);
            return job;
          }
          this.store.recordProgress(job.id, { status, progress, nextPollAt: this.nextPollAt(job) }, now);
          return job;
        }
        // A status this contract does not know: keep the job open, look again later.
        this.logger.warn({ job_id: job.id, upstream_status: String(status).slice(0, 40) }, 'unrecognised upstream job status');
        this.store.recordPollFailure(job.id, this.backoffAt(job, null), now);
        return job;
      }
    }
  }
}
