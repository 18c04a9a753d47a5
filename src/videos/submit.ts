import { isDatabaseUnavailable } from '../db/unavailable.js';
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import type { PriceQuote } from '../billing/catalog.js';
import type { JobKind, JobRow } from '../db/billing-store.js';
import type { ParsedBody } from './request-body.js';
import { ApiError, errorBody } from '../errors.js';
import { newId } from '../ids.js';
import { formatUsd } from '../money.js';
import { UpstreamFailure, type SmallResponse } from '../relay/upstream.js';
import { planCreate, recordAttemptHealth, retryAfterSeconds } from '../relay/plan.js';
import { classifyAnswer, classifyNoAnswer } from '../relay/failover.js';
import { noUpstreamAvailable } from '../relay/registry.js';
import { downstreamResponseHeaders, upstreamRequestHeaders, upstreamRequestId } from '../relay/headers.js';
import { parseVideoObject } from '../billing/settlement.js';
import { checkModelAllowed } from './validate.js';
import { clientHeaders } from '../http/client-headers.js';
import { respond } from '../http/request-context.js';
import { IDEMPOTENCY_TTL_MS } from '../db/idempotency-store.js';

/**
 * A billable POST: price → (idempotency claim) → hold → forward once → record the job or release.
 * The job row is committed before the client hears back; a create is never sent twice.
 */
export interface BillableSpec {
  kind: JobKind;
  quote: PriceQuote;
  sourceVideoId: string | null;
  /** A remix, edit or extension goes to its source's upstream (null: routed). */
  stickyUpstreamId: string | null;
  /** Path below /v1, e.g. `/videos` or `/videos/video_1/remix` */
  upstreamPath: string;
  body: ParsedBody;
}

export async function submitBillable(c: Context<AppEnv>, deps: Deps, spec: BillableSpec): Promise<Response> {
  const state = c.get('state');
  const key = state.key!;
  checkModelAllowed(key, deps.catalog, spec.quote.model);

  const idemKey = c.req.header('idempotency-key');
  if (idemKey !== undefined) {
    if (idemKey.length === 0 || idemKey.length > 255) throw new ApiError('invalid_request', 'Idempotency-Key must be 1 to 255 characters.', 'Idempotency-Key');
    const bodyHash = createHash('sha256').update(`${spec.upstreamPath}\n${spec.body.canonical}`).digest('hex');
    const now = deps.now();
    const claim = await deps.store.claimIdempotencyKey({
      keyId: key.id,
      idemKey,
      route: spec.upstreamPath,
      bodyHash,
      now,
      expiredBefore: now - IDEMPOTENCY_TTL_MS,
      instanceId: deps.instance.id,
      deadBefore: now - deps.config.instanceTimeoutMs,
    });
    if (!claim.claimed) {
      const prior = claim.existing;
      if (prior.bodyHash !== bodyHash) {
        throw new ApiError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request body.', 'Idempotency-Key', {
          'x-should-retry': 'false',
        });
      }
      if (prior.state !== 'done') {
        // The SDKs retry a 409 after retry-after and then get the first request's answer replayed.
        throw new ApiError('idempotency_key_in_use', 'A request with this Idempotency-Key is still in progress.', 'Idempotency-Key', {
          'retry-after': '1',
        });
      }
      const headers = JSON.parse(prior.responseHeaders ?? '{}') as Record<string, string>;
      return respond(c, prior.responseStatus ?? 200, { ...headers, 'idempotent-replayed': 'true' }, prior.responseBody ?? '');
    }
    if (claim.abandoned) {
      // The first request with this key was in flight on an instance that died: it may have
      // started an upstream job (its hold is released as an unknown outcome). Forwarding again
      // could start a second one, so this is an unknown outcome too, and the key keeps the answer.
      const err = new UnknownOutcomeError(
        'upstream_error',
        'An earlier request with this Idempotency-Key was interrupted; its outcome is unknown. Do not retry it automatically.',
        'Idempotency-Key',
        { 'x-should-retry': 'false' },
      );
      deps.logger.warn(
        { incident: 'create_outcome_unknown', key_id: key.id, request_id: state.requestId, reason: 'idempotency_key_abandoned' },
        'an Idempotency-Key was in flight on an instance that died; answered as an unknown outcome, not forwarded again',
      );
      await deps.store.completeIdempotencyKey(key.id, idemKey, { status: err.status, headers: { 'content-type': 'application/json', ...err.headers }, body: errorBody(err) });
      throw err;
    }
  }

  try {
    const res = await holdAndForward(c, deps, spec);
    if (idemKey !== undefined) {
      if (res.remember) await deps.store.completeIdempotencyKey(key.id, idemKey, { status: res.status, headers: res.headers, body: res.bodyText }, deps.instance.id);
      else await deps.store.releaseIdempotencyKey(key.id, idemKey, deps.instance.id);
    }
    return respond(c, res.status, res.headers, res.body);
  } catch (err) {
    if (idemKey !== undefined) {
      try {
        if (isUnknownOutcome(err)) {
          // The upstream may have started a job: the key stays claimed and replays this answer, so
          // a retry with the same key can never start a second one.
          const headers: Record<string, string> = { 'content-type': 'application/json', ...err.headers };
          await deps.store.completeIdempotencyKey(key.id, idemKey, { status: err.status, headers, body: errorBody(err) }, deps.instance.id);
        } else {
          await deps.store.releaseIdempotencyKey(key.id, idemKey, deps.instance.id);
        }
      } catch (bookkeeping) {
        // The database is gone too: the client still gets the answer that describes what happened
        // (the key stays claimed, in flight, and a retry with it gets 409 until it is abandoned).
        if (!isDatabaseUnavailable(bookkeeping)) throw bookkeeping;
        deps.logger.warn({ err: (bookkeeping as Error).message, request_id: c.get('state').requestId }, 'could not settle the Idempotency-Key record: database unavailable');
      }
    }
    throw err;
  }
}

/**
 * The upstream accepted (or may have accepted) the create, and then the database could not be
 * reached to record it: never answer database_unavailable ("nothing was forwarded"), which the
 * SDKs retry into a second paid job. The job row stays `pending` with its hold, like a create
 * interrupted by a crash.
 */
function recordingLost(deps: Deps, job: JobRow, requestId: string, err: unknown): ApiError {
  deps.logger.error(
    { incident: 'create_outcome_unrecorded', job_id: job.id, key_id: job.keyId, request_id: requestId, err: (err as Error)?.message },
    'the upstream was called but the database could not be reached to record the outcome; the job stays pending',
  );
  return new UnknownOutcomeError(
    'internal_error',
    'The job may have been created upstream, but reelay could not record it (its database cannot be reached). Its outcome is unknown: do not retry automatically.',
    null,
    { 'x-should-retry': 'false' },
  );
}

/**
 * reelay's own answer to a create that may have reached the upstream without an answer coming
 * back. The SDKs retry 5xx unless told not to, and a retry could start a second paid job.
 */
class UnknownOutcomeError extends ApiError {}

function unknownOutcomeError(failure: UpstreamFailure): ApiError {
  const base = failure.toApiError();
  return new UnknownOutcomeError(base.code, base.message, base.param, { ...base.headers, 'x-should-retry': 'false' });
}

function isUnknownOutcome(err: unknown): err is ApiError {
  return err instanceof UnknownOutcomeError;
}

/** Upstream answers after which a job may exist upstream although the create was not accepted. */
const MAYBE_STARTED_STATUSES = new Set([502, 504]);

interface Forwarded {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  bodyText: string;
  /** false when nothing was created and a retry with the same key should really try again */
  remember: boolean;
}

async function holdAndForward(c: Context<AppEnv>, deps: Deps, spec: BillableSpec): Promise<Forwarded> {
  const state = c.get('state');
  const key = state.key!;
  const q = spec.quote;
  const jobId = newId('job');
  const who = { actor: `key:${key.id}`, requestId: state.requestId, now: deps.now() };
  // Where the create may go, before anything is held: no upstream → 503, nothing held.
  const plan = await planCreate(deps, q.model, spec.stickyUpstreamId);
  const hold = await deps.store.placeHold(
    {
      id: jobId,
      upstreamId: plan.candidates[0]!.spec.id,
      keyId: key.id,
      kind: spec.kind,
      model: q.model,
      size: q.size,
      requestedSeconds: q.seconds,
      sourceVideoId: spec.sourceVideoId,
      rateMicros: q.rateMicros,
      flatPriceMicros: q.flatMicros,
      heldMicros: q.priceMicros,
      requestId: state.requestId,
      instanceId: deps.instance.id,
    },
    who,
    { maxInflightJobs: key.maxInflightJobs },
  );
  if (!hold.ok) {
    if (hold.reason === 'inflight_limit') {
      throw new ApiError('rate_limit_exceeded', `This key already has ${key.maxInflightJobs} jobs in flight; wait for one to finish.`, null, {
        'retry-after': '10',
      });
    }
    throw new ApiError(
      'insufficient_quota',
      `Your available balance does not cover this job (${formatUsd(q.priceMicros)} USD). Top up the key to continue.`,
      null,
      { 'x-should-retry': 'false' },
    );
  }
  const job = hold.job;

  // Forward exactly once per upstream, and to another upstream only when the previous one
  // certainly started no job (contract §10). The client's abort signal is deliberately not passed:
  // a client that hangs up after sending must still get its job recorded and settled.
  const headersFor = (apiKey: string | undefined) => ({ ...upstreamRequestHeaders(clientHeaders(c), apiKey), 'content-type': spec.body.contentType });
  const maxCreateMs = deps.config.upstreamTimeouts.connectMs + deps.config.upstreamTimeouts.headersMs + deps.config.upstreamTimeouts.bodyMs;
  let attempts = 0;
  let lastRefusal: { upstreamRes: SmallResponse; upstreamId: string } | null = null;
  let lastErrorCode = 'upstream_unavailable';
  const started = performance.now();
  for (const [i, candidate] of plan.candidates.entries()) {
    const id = candidate.spec.id;
    const upstream = deps.upstreams.get(id)!;
    // The job counts against the upstream it is sent to: move it there, within max_inflight_jobs
    // (checked in the database, so instances sharing it never overfill an upstream together).
    if ((i > 0 || candidate.spec.maxInflightJobs !== null) && !(await deps.store.assignJobUpstream(job.id, id, candidate.spec.maxInflightJobs, deps.now()))) continue;
    // A cooled-down upstream gets one trial create, claimed by one instance.
    if (candidate.trial && !(await deps.store.claimUpstreamTrial(id, deps.now(), deps.now() + maxCreateMs))) continue;
    attempts++;
    state.upstreamId = id;
    const attemptStarted = performance.now();
    let upstreamRes: SmallResponse;
    try {
      upstreamRes = await upstream.client.fetchSmall({ method: 'POST', path: spec.upstreamPath, headers: headersFor(upstream.spec.apiKey), body: spec.body.raw }, (head) => {
        state.upstreamRequestId = upstreamRequestId(head.headers);
      });
    } catch (err) {
      state.upstreamMs = performance.now() - started;
      const failure = err instanceof UpstreamFailure ? err : new UpstreamFailure('reset', true, err);
      const verdict = classifyNoAnswer(failure);
      deps.metrics.createAttempt(id, verdict.result);
      await recordAttemptHealth(deps, id, verdict, plan.health.get(id), undefined).catch((healthErr) => {
        deps.logger.warn({ err: (healthErr as Error).message, upstream_id: id }, 'could not record the upstream health');
      });
      if (verdict.failover) {
        lastErrorCode = `upstream_${failure.kind}`;
        logAttempt(c, deps, id, 503, `failover_upstream_${failure.kind}`, performance.now() - attemptStarted);
        continue;
      }
      try {
        await releaseUnknown(deps, job, failure, state.requestId);
      } catch (dbErr) {
        // Certainly not sent: database_unavailable is the truth. Maybe sent: the outcome is unknown.
        if (failure.maySent && isDatabaseUnavailable(dbErr)) throw recordingLost(deps, job, state.requestId, dbErr);
        throw dbErr;
      }
      throw failure.maySent ? unknownOutcomeError(failure) : failure.toApiError();
    }
    state.upstreamMs = performance.now() - started;
    const verdict = classifyAnswer(upstreamRes.status);
    deps.metrics.createAttempt(id, verdict.result);
    await recordAttemptHealth(deps, id, verdict, plan.health.get(id), upstreamRes.headers['retry-after'], upstreamRes.status).catch((err) => {
      deps.logger.warn({ err: (err as Error).message, upstream_id: id }, 'could not record the upstream health');
    });
    if (verdict.failover) {
      // 429/503: no job was started there. Try the next upstream; the last answer is kept.
      lastRefusal = { upstreamRes, upstreamId: id };
      lastErrorCode = `upstream_${upstreamRes.status}`;
      logAttempt(c, deps, id, upstreamRes.status, `failover_upstream_${upstreamRes.status}`, performance.now() - attemptStarted);
      continue;
    }
    try {
      return await recordForwarded(c, deps, spec, job, who, upstreamRes, upstreamRes.bytes);
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw recordingLost(deps, job, state.requestId, err);
      throw err;
    }
  }

  // No upstream took the job: nothing was started anywhere, the hold goes back.
  if (!deps.upstreams.fromFile && lastRefusal) {
    // The implicit `default` upstream (no UPSTREAMS_FILE) refused it: its answer (status, body,
    // retry-after) passes through, as before there were several upstreams.
    state.upstreamId = lastRefusal.upstreamId;
    return await recordForwarded(c, deps, spec, job, who, lastRefusal.upstreamRes, lastRefusal.upstreamRes.bytes);
  }
  state.upstreamId = null;
  state.errorCode = 'upstream_unavailable';
  await deps.settlement.settle(job, { kind: 'rejected', errorCode: lastErrorCode }, who.actor, state.requestId);
  const health = deps.upstreams.fromFile ? new Map((await deps.store.listUpstreamHealth()).map((r) => [r.id, r])) : new Map();
  throw noUpstreamAvailable(retryAfterSeconds(health, deps.now()));
}

/** One failover attempt that did not take the job, as its own request-log row (the request's own row names the upstream that answered). */
function logAttempt(c: Context<AppEnv>, deps: Deps, upstreamId: string, status: number, errorCode: string, ms: number): void {
  const state = c.get('state');
  deps.requestLog.push({
    requestId: state.requestId,
    clientRequestId: state.clientRequestId,
    upstreamRequestId: state.upstreamRequestId,
    keyId: state.key?.id ?? null,
    method: 'POST',
    route: state.route,
    upstreamId,
    status,
    errorCode,
    durationMs: Math.round(ms),
    upstreamDurationMs: Math.round(ms),
    createdAt: deps.now(),
  });
  state.upstreamRequestId = null;
}

/** Everything after the upstream answered a create: record the job (or release its hold) and build the answer. */
async function recordForwarded(
  c: Context<AppEnv>,
  deps: Deps,
  spec: BillableSpec,
  job: JobRow,
  who: { actor: string; requestId: string; now: number },
  upstreamRes: { status: number; headers: Record<string, string | string[] | undefined> },
  body: Buffer,
): Promise<Forwarded> {
  const state = c.get('state');

  const headers = downstreamResponseHeaders(upstreamRes.headers);
  const bodyText = body.toString('utf8');

  if (upstreamRes.status < 200 || upstreamRes.status >= 300) {
    // The upstream refused: nothing was created, the hold goes back.
    await deps.settlement.settle(job, { kind: 'rejected', errorCode: `upstream_${upstreamRes.status}` }, who.actor, state.requestId);
    state.errorCode = `upstream_${upstreamRes.status}`;
    // A 502/504 relayed from the upstream (a gateway in front of the provider timed out) leaves
    // the outcome unknown too: no automatic retry, and an Idempotency-Key keeps this answer.
    const maybeStarted = MAYBE_STARTED_STATUSES.has(upstreamRes.status);
    if (maybeStarted) headers['x-should-retry'] = 'false';
    return { status: upstreamRes.status, headers, body, bodyText, remember: maybeStarted || (upstreamRes.status < 500 && upstreamRes.status !== 429) };
  }

  const object = parseVideoObject(bodyText);
  const videoId = object && typeof object.id === 'string' && object.id.length > 0 && object.id.length <= 200 ? object.id : null;
  if (!object || !videoId) {
    const failure = new UpstreamFailure('bad_response', true);
    await releaseUnknown(deps, job, failure, state.requestId);
    throw unknownOutcomeError(failure);
  }
  const status = object.status === 'in_progress' ? 'in_progress' : 'queued';
  const recorded = await deps.store.recordSubmitted(
    job.id,
    {
      videoId,
      status,
      progress: typeof object.progress === 'number' ? Math.round(object.progress) : null,
      upstreamRequestId: state.upstreamRequestId,
      nextPollAt: deps.settlement.nextPollAt(job),
    },
    deps.now(),
  );
  if (recorded === 'duplicate') {
    // The upstream answered with a video id reelay already has for another job: an upstream error.
    // Never bill one video twice, nor leave this job pending with its hold.
    await deps.settlement.settle(job, { kind: 'unknown', reason: 'upstream_duplicate_video_id' }, 'system', state.requestId);
    deps.logger.warn(
      { incident: 'upstream_duplicate_video_id', job_id: job.id, key_id: job.keyId, video_id: videoId.slice(0, 200), request_id: state.requestId },
      'the upstream answered a create with a video id that belongs to another job; hold released',
    );
    throw unknownOutcomeError(new UpstreamFailure('bad_response', true));
  }
  if (!recorded) {
    // Released meanwhile (cannot normally happen while this request is alive): never bill it.
    const failure = new UpstreamFailure('bad_response', true);
    await releaseUnknown(deps, job, failure, state.requestId);
    throw unknownOutcomeError(failure);
  }
  state.videoId = videoId;
  if (object.status === 'completed' || object.status === 'failed') {
    await deps.settlement.observe(recorded, { type: 'object', object, raw: bodyText }, who.actor, state.requestId);
  }
  headers['x-reelay-hold-usd'] = formatUsd(job.heldMicros);
  return { status: upstreamRes.status, headers, body, bodyText, remember: true };
}

/** The create may or may not have reached the upstream and no answer came back: release, log for review. */
async function releaseUnknown(deps: Deps, job: JobRow, failure: UpstreamFailure, requestId: string): Promise<void> {
  const outcome = failure.maySent ? ({ kind: 'unknown', reason: `upstream_${failure.kind}` } as const) : ({ kind: 'rejected', errorCode: `upstream_${failure.kind}` } as const);
  await deps.settlement.settle(job, outcome, 'system', requestId);
  if (failure.maySent) {
    deps.logger.warn(
      { incident: 'create_outcome_unknown', job_id: job.id, key_id: job.keyId, request_id: requestId, failure: failure.kind },
      'create may have reached the upstream but no answer came back; hold released, not retried',
    );
  }
}
