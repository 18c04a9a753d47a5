/**
 * The simulator's state: jobs, characters, the request log and the test controls.
 *
 * Pure and clock-driven: a job stores when it was created and how long it takes; its status and
 * progress are computed from `now()` on every read, so tests inject a clock and need no timers.
 */
import { randomBytes } from 'node:crypto';
import type { CreateFailureKind } from './errors.js';

export interface SimulatorOptions {
  /** queued -> in_progress -> completed over this time (default 3000). progress rises 0..100. */
  jobDurationMs?: number;
  /** How long a job stays queued before in_progress (default: 20% of jobDurationMs). */
  queuedMs?: number;
  /** When set, every /v1 request must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** When set, variant=video content is a synthetic, deterministic byte stream of this size. */
  contentBytes?: number;
  /** Clock in ms, default Date.now. */
  now?: () => number;
  /**
   * When set, a completed job's content is deleted this long after completion (content answers 404
   * afterwards) and `expires_at` says so, like a provider's retention (default: reported as an
   * hour, never enforced).
   */
  contentRetentionMs?: number;
}

export type VideoStatus = 'queued' | 'in_progress' | 'completed' | 'failed';
export type JobKind = 'create' | 'remix' | 'edit' | 'extension';

export type InputReference =
  | { type: 'file'; filename: string; contentType: string; bytes: number }
  | { type: 'image_url'; image_url: string }
  | { type: 'file_id'; file_id: string };

export interface SimJob {
  id: string;
  kind: JobKind;
  model: string;
  prompt: string;
  seconds: string;
  size: string;
  createdAtMs: number;
  queuedMs: number;
  durationMs: number;
  remixedFromVideoId: string | null;
  /** The source video of a remix, edit or extension (null when it was an uploaded file). */
  sourceVideoId: string | null;
  inputReference: InputReference | null;
  /** When set, the job reports `failed` from `atMs` on. */
  failure: { code: string; message: string; atMs: number } | null;
  /** Insertion order, tie-breaker for listing. */
  seq: number;
}

/** The wire shape of a video object, as OpenAI returns it. */
export interface VideoObject {
  id: string;
  object: 'video';
  model: string;
  status: VideoStatus;
  progress: number;
  created_at: number;
  completed_at: number | null;
  expires_at: number | null;
  size: string;
  seconds: string;
  quality: 'standard';
  prompt: string;
  remixed_from_video_id: string | null;
  error: { code: string; message: string } | null;
}

export interface Character {
  id: string;
  created_at: number;
  name: string;
}

export interface LoggedRequest {
  method: string;
  /** URL path without the query string, e.g. `/v1/videos/video_ab12/content`. */
  path: string;
  /** Raw query string without the leading `?` (empty when none). */
  query: string;
  headers: Record<string, string>;
}

export interface NewJob {
  kind?: JobKind;
  model: string;
  prompt: string;
  seconds: string;
  size: string;
  remixedFromVideoId?: string | null;
  sourceVideoId?: string | null;
  inputReference?: InputReference | null;
}

export interface ListQuery {
  after?: string;
  limit?: number;
  order?: 'asc' | 'desc';
}

export interface ListPage {
  object: 'list';
  data: VideoObject[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export const DEFAULT_JOB_DURATION_MS = 3000;
export const REQUEST_LOG_LIMIT = 1000;
/** Downloads "expire" this long after completion (reported in expires_at, not enforced). */
const EXPIRY_S = 3600;

export const FAIL_MARKER = '[fail]';
export const REJECT_MARKER = '[reject]';

export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

export function failureMessage(code: string): string {
  return code === 'generation_failed' ? 'Video generation failed.' : `Video generation failed (${code}).`;
}

/** Status and progress of a job at a given instant. Pure. */
export function jobStatusAt(job: SimJob, nowMs: number): { status: VideoStatus; progress: number } {
  const failed = job.failure !== null && nowMs >= job.failure.atMs;
  const at = failed ? job.failure!.atMs : nowMs;
  const elapsed = at - job.createdAtMs;
  let status: VideoStatus;
  let progress: number;
  if (elapsed >= job.durationMs) {
    status = 'completed';
    progress = 100;
  } else if (elapsed < job.queuedMs) {
    status = 'queued';
    progress = 0;
  } else {
    status = 'in_progress';
    const span = job.durationMs - job.queuedMs;
    progress = Math.min(99, Math.max(0, Math.floor((100 * (elapsed - job.queuedMs)) / span)));
  }
  if (failed) return { status: 'failed', progress: Math.min(progress, 99) };
  return { status, progress };
}

/** The OpenAI video object for a job at a given instant. Pure. */
export function toVideoObject(job: SimJob, nowMs: number, retentionMs?: number): VideoObject {
  const { status, progress } = jobStatusAt(job, nowMs);
  const completedAt = status === 'completed' ? Math.floor((job.createdAtMs + job.durationMs) / 1000) : null;
  return {
    id: job.id,
    object: 'video',
    model: job.model,
    status,
    progress,
    created_at: Math.floor(job.createdAtMs / 1000),
    completed_at: completedAt,
    expires_at: completedAt === null ? null : retentionMs === undefined ? completedAt + EXPIRY_S : Math.floor((job.createdAtMs + job.durationMs + retentionMs) / 1000),
    size: job.size,
    seconds: job.seconds,
    quality: 'standard',
    prompt: job.prompt,
    remixed_from_video_id: job.remixedFromVideoId,
    error: status === 'failed' ? { code: job.failure!.code, message: job.failure!.message } : null,
  };
}

export class Simulator {
  readonly jobs = new Map<string, SimJob>();
  readonly characters = new Map<string, Character>();
  readonly requests: LoggedRequest[] = [];
  requestCount = 0;
  readonly apiKey: string | undefined;
  readonly contentBytes: number | undefined;
  readonly contentRetentionMs: number | undefined;
  readonly now: () => number;
  private readonly jobDurationMs: number;
  private readonly queuedMs: number;
  private latency = 0;
  private seq = 0;
  private readonly createFailures: CreateFailureKind[] = [];

  constructor(opts: SimulatorOptions = {}) {
    const duration = opts.jobDurationMs ?? DEFAULT_JOB_DURATION_MS;
    if (!Number.isFinite(duration) || duration < 0) throw new RangeError('jobDurationMs must be >= 0');
    const queued = opts.queuedMs ?? Math.floor(duration * 0.2);
    if (!Number.isFinite(queued) || queued < 0) throw new RangeError('queuedMs must be >= 0');
    if (opts.contentBytes !== undefined && (!Number.isSafeInteger(opts.contentBytes) || opts.contentBytes < 0)) {
      throw new RangeError('contentBytes must be a non-negative integer');
    }
    this.jobDurationMs = duration;
    this.queuedMs = Math.min(queued, duration);
    this.apiKey = opts.apiKey;
    this.contentBytes = opts.contentBytes;
    this.contentRetentionMs = opts.contentRetentionMs;
    this.now = opts.now ?? Date.now;
  }

  // ---- test controls -------------------------------------------------------------------------

  /** The next `count` job-creating requests (create, remix, edit, extension) are rejected. */
  failNextCreate(kind: CreateFailureKind, count = 1): void {
    for (let i = 0; i < count; i++) this.createFailures.push(kind);
  }

  /**
   * The job reports `failed` (with `error: {code, message}`) from now on. Returns false when the
   * id is unknown or the job already finished (a finished job is never rewritten).
   */
  failJob(videoId: string, code = 'generation_failed'): boolean {
    const job = this.jobs.get(videoId);
    if (!job) return false;
    const nowMs = this.now();
    const { status } = jobStatusAt(job, nowMs);
    if (status === 'completed' || status === 'failed') return false;
    job.failure = { code, message: failureMessage(code), atMs: nowMs };
    return true;
  }

  /** Every /v1 response is delayed by `ms`. */
  setLatencyMs(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('latency must be >= 0');
    this.latency = ms;
  }

  get latencyMs(): number {
    return this.latency;
  }

  /** The job vanishes: later calls answer 404. Returns false when the id was unknown. */
  forget(videoId: string): boolean {
    return this.jobs.delete(videoId);
  }

  /** Takes the next queued create failure, if any. */
  takeCreateFailure(): CreateFailureKind | undefined {
    return this.createFailures.shift();
  }

  get pendingCreateFailures(): number {
    return this.createFailures.length;
  }

  // ---- request log ---------------------------------------------------------------------------

  recordRequest(entry: LoggedRequest): void {
    this.requestCount++;
    this.requests.push(entry);
    if (this.requests.length > REQUEST_LOG_LIMIT) this.requests.splice(0, this.requests.length - REQUEST_LOG_LIMIT);
  }

  // ---- jobs ----------------------------------------------------------------------------------

  createJob(input: NewJob): SimJob {
    const createdAtMs = this.now();
    const job: SimJob = {
      id: `video_${randomHex(24)}`,
      kind: input.kind ?? 'create',
      model: input.model,
      prompt: input.prompt,
      seconds: input.seconds,
      size: input.size,
      createdAtMs,
      queuedMs: this.queuedMs,
      durationMs: this.jobDurationMs,
      remixedFromVideoId: input.remixedFromVideoId ?? null,
      sourceVideoId: input.sourceVideoId ?? null,
      inputReference: input.inputReference ?? null,
      failure: null,
      seq: this.seq++,
    };
    if (input.prompt.toLowerCase().includes(FAIL_MARKER)) {
      job.failure = {
        code: 'generation_failed',
        message: failureMessage('generation_failed'),
        atMs: createdAtMs + this.jobDurationMs,
      };
    }
    this.jobs.set(job.id, job);
    return job;
  }

  get(videoId: string): SimJob | undefined {
    return this.jobs.get(videoId);
  }

  view(job: SimJob): VideoObject {
    return toVideoObject(job, this.now(), this.contentRetentionMs);
  }

  status(job: SimJob): VideoStatus {
    return jobStatusAt(job, this.now()).status;
  }

  /** The job's content is gone: deleted by the retention (contentRetentionMs) after completion. */
  contentExpired(job: SimJob): boolean {
    return this.contentRetentionMs !== undefined && this.now() >= job.createdAtMs + job.durationMs + this.contentRetentionMs;
  }

  delete(videoId: string): boolean {
    return this.jobs.delete(videoId);
  }

  /** OpenAI cursor-paginated list, newest first by default. */
  list(query: ListQuery = {}): ListPage {
    const order = query.order ?? 'desc';
    const limit = query.limit ?? 20;
    const all = [...this.jobs.values()].sort((a, b) => a.createdAtMs - b.createdAtMs || a.seq - b.seq);
    if (order === 'desc') all.reverse();
    let start = 0;
    if (query.after !== undefined) {
      const idx = all.findIndex((j) => j.id === query.after);
      start = idx === -1 ? all.length : idx + 1;
    }
    const page = all.slice(start, start + limit);
    const nowMs = this.now();
    return {
      object: 'list',
      data: page.map((j) => toVideoObject(j, nowMs, this.contentRetentionMs)),
      first_id: page[0]?.id ?? null,
      last_id: page[page.length - 1]?.id ?? null,
      has_more: start + limit < all.length,
    };
  }

  countByStatus(): Record<VideoStatus, number> {
    const counts: Record<VideoStatus, number> = { queued: 0, in_progress: 0, completed: 0, failed: 0 };
    const nowMs = this.now();
    for (const job of this.jobs.values()) counts[jobStatusAt(job, nowMs).status]++;
    return counts;
  }

  // ---- characters ----------------------------------------------------------------------------

  createCharacter(name: string): Character {
    const character: Character = {
      id: `char_${randomHex(16)}`,
      created_at: Math.floor(this.now() / 1000),
      name,
    };
    this.characters.set(character.id, character);
    return character;
  }

  getCharacter(id: string): Character | undefined {
    return this.characters.get(id);
  }
}
