import { Hono, type Context } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { OPEN_STATUSES, type JobRow } from '../db/billing-store.js';
import { lookUpJob } from '../billing/lookup.js';
import { ApiError, invalid, notFound } from '../errors.js';
import { keyAuth } from '../http/key-auth.js';
import { readBody, JSON_LIMIT_BYTES } from '../http/body.js';
import { respond, respondJson } from '../http/request-context.js';
import { clientHeaders } from '../http/client-headers.js';
import { parseRequestBody } from './request-body.js';
import { sourceVideoRef, validateCreate, validateEdit, validateExtension, validateRemix } from './validate.js';
import { submitBillable } from './submit.js';
import { refuseHopelessSubmit } from './early-refusal.js';
import { sendArchived, sendContent } from './content.js';
import { withArchiveExpiry } from '../archive/service.js';
import { downstreamResponseHeaders, upstreamRequestHeaders, upstreamRequestId } from '../relay/headers.js';
import { parseVideoObject } from '../billing/settlement.js';
import { toVideoObject } from './video-object.js';
import { sizesOf } from '../billing/catalog.js';
import { routeCreate } from '../relay/routing.js';
import { noUpstreamAvailable } from '../relay/registry.js';

const isOpen = (job: JobRow) => (OPEN_STATUSES as readonly string[]).includes(job.status);

/** The OpenAI-compatible /v1 surface. */
export function videoRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', keyAuth(deps));

  const route = (c: Context<AppEnv>, pattern: string) => {
    c.get('state').route = pattern;
  };

  /** The caller's own, not deleted job for a video id — or the same 404 as for an unknown id. */
  const ownedJob = async (c: Context<AppEnv>, videoId: string): Promise<JobRow> => {
    const state = c.get('state');
    state.videoId = videoId;
    const job = await deps.store.getJobForRequest(state.key!.id, videoId);
    if (!job || job.keyId !== state.key!.id || job.deletedAt !== null) throw notFound('video');
    return job;
  };

  /** The source of a remix/edit/extension: known to reelay and owned by the caller, else 400 on `video`. */
  const sourceJob = async (c: Context<AppEnv>, videoId: string): Promise<JobRow> => {
    const job = await deps.store.getJobByVideoId(videoId, c.get('state').key!.id);
    if (!job || job.keyId !== c.get('state').key!.id || job.deletedAt !== null) {
      throw invalid(`The source video '${videoId.slice(0, 100)}' is not known to this gateway for this key.`, 'video');
    }
    return job;
  };

  /**
   * "Nothing leaves unbilled" (contract §3): before reelay relays the content of a job it has not
   * seen completed, forwards the delete of an unsettled job, or prices a remix or edit of an
   * unfinished source, it looks the job up at the upstream and settles what it finds. Otherwise a
   * client could download a finished video and delete it before the reconciler saw it complete.
   * Returns the job as it stands afterwards; throws when the upstream gave no answer.
   */
  const settleFromUpstream = async (c: Context<AppEnv>, job: JobRow): Promise<{ job: JobRow; answered: boolean }> => {
    if (!isOpen(job)) return { job, answered: true };
    const state = c.get('state');
    // The job's own upstream, with its credential; 503 when it is no longer configured.
    const upstream = deps.upstreams.forJob(job.upstreamId);
    state.upstreamId = upstream.spec.id;
    const started = performance.now();
    const found = await lookUpJob(upstream.client, job, deps.now());
    state.upstreamMs = performance.now() - started;
    if (found.failure) throw found.failure.toApiError();
    const after = await deps.settlement.observe(job, found.observation, `key:${job.keyId}`, state.requestId);
    return { job: (await deps.store.getJob(after.id)) ?? after, answered: found.observation.type !== 'transient' };
  };

  /** A finished job's stored object; a completed one's `expires_at` reflects the archive (contract §11). */
  const finalObjectOf = async (job: JobRow): Promise<string> => {
    if (!deps.archive || job.status !== 'completed') return job.finalObject!;
    const archiveS = deps.archive.expiresAtS(await deps.archive.task(job.id));
    const object = archiveS === null ? null : parseVideoObject(job.finalObject!);
    return object ? JSON.stringify(withArchiveExpiry(object as Record<string, unknown>, archiveS)) : job.finalObject!;
  };

  const multipartLimit = deps.config.maxMultipartBytes;
  /** A billable POST's body, read only if the key could pay for a job at all (see early-refusal.ts). */
  const bodyOf = async (c: Context<AppEnv>) => {
    await refuseHopelessSubmit(c, deps);
    const isMultipart = /^multipart\/form-data/i.test(c.req.header('content-type') ?? '');
    const raw = await readBody(c, isMultipart ? multipartLimit : JSON_LIMIT_BYTES);
    return parseRequestBody(raw, c.req.header('content-type'));
  };

  /**
   * Forwards a small request to `upstreamId` (the job's or character's own upstream; 503 when it is
   * no longer configured) and answers with the upstream's bytes, status and filtered headers.
   */
  const forwardSmall = async (c: Context<AppEnv>, upstreamId: string, method: 'GET' | 'DELETE' | 'POST', path: string, body?: { raw: Buffer; contentType: string }) => {
    const state = c.get('state');
    const upstream = deps.upstreams.forJob(upstreamId);
    state.upstreamId = upstream.spec.id;
    const headers = upstreamRequestHeaders(clientHeaders(c), upstream.spec.apiKey);
    if (body) headers['content-type'] = body.contentType;
    const started = performance.now();
    try {
      // On Node's server the client's hang-up is its response closing early; elsewhere (app.request
      // in tests) the request's signal. `c.req.raw.signal` would build a whole fetch Request on Node.
      const outgoing = c.env?.outgoing;
      const hangUp = outgoing ? { client: outgoing } : { signal: c.req.raw.signal };
      const res = await upstream.client.fetchSmall({ method, path, headers, body: body?.raw, ...hangUp }, (head) => {
        state.upstreamRequestId = upstreamRequestId(head.headers);
      });
      return { status: res.status, headers: downstreamResponseHeaders(res.headers), bytes: res.bytes };
    } catch (err) {
      throw (err as { toApiError?: () => ApiError }).toApiError?.() ?? err;
    } finally {
      state.upstreamMs = performance.now() - started;
    }
  };

  const pathWithQuery = (c: Context<AppEnv>, path: string) => {
    const q = c.req.url.indexOf('?');
    return q === -1 ? path : path + c.req.url.slice(q);
  };

  // --- billable ------------------------------------------------------------------------------

  app.post('/videos', async (c) => {
    route(c, '/v1/videos');
    const body = await bodyOf(c);
    const quote = validateCreate(body.fields, deps.catalog);
    return submitBillable(c, deps, { kind: 'create', quote, sourceVideoId: null, stickyUpstreamId: null, upstreamPath: '/videos', body });
  });

  app.post('/videos/edits', async (c) => {
    route(c, '/v1/videos/edits');
    const body = await bodyOf(c);
    const { job: source } = await settleFromUpstream(c, await sourceJob(c, sourceVideoRef(body.fields)));
    const quote = validateEdit(body.fields, deps.catalog, source);
    return submitBillable(c, deps, { kind: 'edit', quote, sourceVideoId: source.videoId, stickyUpstreamId: source.upstreamId, upstreamPath: '/videos/edits', body });
  });

  app.post('/videos/extensions', async (c) => {
    route(c, '/v1/videos/extensions');
    const body = await bodyOf(c);
    const source = await sourceJob(c, sourceVideoRef(body.fields));
    const quote = validateExtension(body.fields, deps.catalog, source);
    return submitBillable(c, deps, { kind: 'extension', quote, sourceVideoId: source.videoId, stickyUpstreamId: source.upstreamId, upstreamPath: '/videos/extensions', body });
  });

  app.post('/videos/:id/remix', async (c) => {
    route(c, '/v1/videos/:id/remix');
    const owned = await ownedJob(c, c.req.param('id'));
    const body = await bodyOf(c);
    const { job: source } = await settleFromUpstream(c, owned);
    const quote = validateRemix(body.fields, deps.catalog, source);
    return submitBillable(c, deps, {
      kind: 'remix',
      quote,
      sourceVideoId: source.videoId,
      stickyUpstreamId: source.upstreamId,
      upstreamPath: `/videos/${encodeURIComponent(source.videoId!)}/remix`,
      body,
    });
  });

  // --- characters (forwarded, not billed) ---------------------------------------------------

  app.post('/videos/characters', async (c) => {
    route(c, '/v1/videos/characters');
    const isMultipart = /^multipart\/form-data/i.test(c.req.header('content-type') ?? '');
    const raw = await readBody(c, isMultipart ? multipartLimit : JSON_LIMIT_BYTES);
    // A character belongs to no video: it goes to the first upstream routing offers (any model).
    const [first] = routeCreate({
      upstreams: deps.upstreams.specs,
      model: null,
      health: new Map((await deps.store.listUpstreamHealth()).map((r) => [r.id, r])),
      inflight: new Map(),
      now: deps.now(),
      random: deps.random,
      applyHealth: deps.upstreams.fromFile,
    });
    if (!first) throw noUpstreamAvailable(5);
    const res = await forwardSmall(c, first.spec.id, 'POST', '/videos/characters', { raw, contentType: c.req.header('content-type') ?? 'application/json' });
    if (res.status >= 200 && res.status < 300) {
      // Remember who created the character, so only that key can read it back.
      const id = (parseVideoObject(res.bytes.toString('utf8'))?.id ?? null) as unknown;
      const state = c.get('state');
      if (typeof id === 'string' && id.length > 0 && id.length <= 200) {
        await deps.store.recordCharacter({ id, keyId: state.key!.id, requestId: state.requestId, upstreamId: first.spec.id, createdAt: deps.now() });
      }
    }
    return respond(c, res.status, res.headers, res.bytes);
  });

  app.get('/videos/characters/:id', async (c) => {
    route(c, '/v1/videos/characters/:id');
    const character = await deps.store.getCharacter(c.req.param('id'), c.get('state').key!.id);
    if (!character || character.keyId !== c.get('state').key!.id) throw notFound('character');
    const res = await forwardSmall(c, character.upstreamId, 'GET', `/videos/characters/${encodeURIComponent(character.id)}`);
    return respond(c, res.status, res.headers, res.bytes);
  });

  // --- reads ---------------------------------------------------------------------------------

  app.get('/videos', async (c) => {
    route(c, '/v1/videos');
    const key = c.get('state').key!;
    const limitRaw = c.req.query('limit');
    const limit = limitRaw === undefined ? 20 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalid("'limit' must be an integer from 1 to 100.", 'limit');
    const order = c.req.query('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw invalid("'order' must be 'asc' or 'desc'.", 'order');
    const afterId = c.req.query('after');
    let after: JobRow | undefined;
    if (afterId !== undefined) {
      after = await deps.store.getJobByVideoId(afterId, key.id);
      if (!after || after.keyId !== key.id) throw invalid("'after' is not one of your video ids.", 'after');
    }
    const rows = await deps.store.listVideosForKeys([key.id], { after, limit: limit + 1, order });
    const page = rows.slice(0, limit);
    let data = page.map(toVideoObject);
    const archive = deps.archive;
    if (archive) {
      const completed = page.filter((j) => j.status === 'completed').map((j) => j.id);
      const tasks = new Map((await archive.tasks(completed)).map((t) => [t.jobId, t]));
      data = data.map((o, i) => withArchiveExpiry(o, archive.expiresAtS(tasks.get(page[i]!.id))));
    }
    return respondJson(c, {
      object: 'list',
      data,
      first_id: page[0]?.videoId ?? null,
      last_id: page[page.length - 1]?.videoId ?? null,
      has_more: rows.length > limit,
    });
  });

  app.get('/videos/:id', async (c) => {
    route(c, '/v1/videos/:id');
    const job = await ownedJob(c, c.req.param('id'));
    if ((job.status === 'completed' || job.status === 'failed') && job.finalObject) {
      c.get('state').upstreamRequestId = null;
      return respond(c, 200, { 'x-reelay-cache': 'final' }, await finalObjectOf(job));
    }
    const res = await forwardSmall(c, job.upstreamId, 'GET', `/videos/${encodeURIComponent(job.videoId!)}`);
    const state = c.get('state');
    if (res.status === 200) {
      const text = res.bytes.toString('utf8');
      const object = parseVideoObject(text);
      if (object && object.id === job.videoId) {
        await deps.settlement.observe(job, { type: 'object', object, raw: text }, `key:${job.keyId}`, state.requestId);
        // Not finished: when to look again, on reelay's own poll schedule (the SDKs' poll helpers obey it).
        if (object.status === 'queued' || object.status === 'in_progress') res.headers['openai-poll-after-ms'] = String(deps.settlement.pollIntervalMs(job));
      }
    } else if (res.status === 404) {
      await deps.settlement.observe(job, { type: 'not_found' }, 'system', state.requestId);
    }
    return respond(c, res.status, res.headers, res.bytes);
  });

  app.delete('/videos/:id', async (c) => {
    route(c, '/v1/videos/:id');
    const owned = await ownedJob(c, c.req.param('id'));
    // Settle first: a job deleted upstream can no longer be seen completing, so it would go unbilled.
    const { job, answered } = await settleFromUpstream(c, owned);
    if (!answered) {
      throw new ApiError('upstream_error', 'The upstream could not confirm the state of this video; the delete was not sent. Try again.', null, { 'retry-after': '5' });
    }
    const res = await forwardSmall(c, job.upstreamId, 'DELETE', `/videos/${encodeURIComponent(job.videoId!)}`);
    if (res.status === 404 && deps.archive && job.status === 'completed') {
      // The upstream deleted its copy already (its retention), but reelay still keeps one: the
      // delete is reelay's to do, and succeeds.
      const task = await deps.archive.task(job.id);
      if (task && task.state !== 'deleted') {
        await deps.store.markDeleted(job.id, deps.now());
        await deps.archive.deleteJob(job.id);
        return respondJson(c, { id: job.videoId, object: 'video.deleted', deleted: true });
      }
    }
    if (res.status >= 200 && res.status < 300) {
      await deps.store.markDeleted(job.id, deps.now());
      await deps.archive?.deleteJob(job.id);
    }
    return respond(c, res.status, res.headers, res.bytes);
  });

  app.get('/videos/:id/content', async (c) => {
    route(c, '/v1/videos/:id/content');
    const owned = await ownedJob(c, c.req.param('id'));
    const variant = c.req.query('variant');
    if (variant !== undefined && !['video', 'thumbnail', 'spritesheet'].includes(variant)) {
      throw invalid("'variant' must be one of 'video', 'thumbnail', 'spritesheet'.", 'variant');
    }
    const key = c.get('state').key!;
    const limit = key.maxConcurrentDownloads ?? deps.config.maxDownloadsPerKey;
    const release = deps.downloads.acquire(key.id, limit);
    if (!release) {
      throw new ApiError('rate_limit_exceeded', `This key already has ${limit} downloads in progress; wait for one to finish.`, null, { 'retry-after': '5' });
    }
    let job: JobRow;
    try {
      ({ job } = await settleFromUpstream(c, owned));
    } catch (err) {
      release();
      throw err;
    }
    if (deps.archive && job.status === 'completed') {
      // The archived copy when there is one; otherwise the upstream, relayed as before. (What is
      // relayed is not archived on the way: the worker copies the job on its own, so a client that
      // hangs up or asks for a range never leaves a partial copy behind.)
      let sent: Response | undefined;
      try {
        const copy = await deps.archive.copyOf(job, (variant ?? 'video') as 'video');
        if (copy) sent = await sendArchived(c, deps, copy, release);
      } catch (err) {
        release();
        throw err;
      }
      if (sent) return sent;
    }
    let upstream;
    try {
      upstream = deps.upstreams.forJob(job.upstreamId);
    } catch (err) {
      release();
      throw err;
    }
    c.get('state').upstreamId = upstream.spec.id;
    return sendContent(
      c,
      upstream.client,
      deps,
      {
        method: 'GET',
        path: pathWithQuery(c, `/videos/${encodeURIComponent(job.videoId!)}/content`),
        headers: upstreamRequestHeaders(clientHeaders(c), upstream.spec.apiKey),
      },
      release,
    );
  });

  app.get('/models', (c) => {
    route(c, '/v1/models');
    const key = c.get('state').key!;
    const data = [...deps.catalog.entries()]
      .filter(([name]) => !key.allowedModels || key.allowedModels.includes(name))
      .map(([name, price]) => ({ id: name, object: 'model', created: 0, owned_by: 'reelay', sizes: sizesOf(price), seconds: price.seconds.map(String) }));
    return respondJson(c, { object: 'list', data });
  });

  return app;
}
