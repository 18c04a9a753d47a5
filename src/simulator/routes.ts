/**
 * The OpenAI-compatible `/v1/videos` routes of the simulator.
 *
 * Error choices where OpenAI's behaviour is not pinned down (all in the OpenAI envelope):
 *  - content of a queued / in_progress job: 404 code `video_not_ready`; of a failed job: 404
 *    code `video_failed`; unknown variant: 400 param `variant`; unsatisfiable Range: 416.
 *  - remix / edit / extension of an unfinished source: 400 code `video_not_ready`; unknown
 *    source: 404 code `not_found`. An uploaded source file counts as a 4 s 720x1280 sora-2 clip.
 *  - failNextCreate and the `[reject]` marker apply to every job-creating request (create,
 *    remix, edit, extension), and only once the request is otherwise valid.
 *  - DELETE works in any state (OpenAI documents it for finished videos only).
 *  - unknown body parameters: 400 code `unknown_parameter`; `model` is not restricted to a list
 *    (so custom-priced models can be simulated); `seconds` and `size` are.
 */
import type { Context, Hono } from 'hono';
import { readFields } from './body.js';
import { createFailure, invalidRequest, notFound, videoNotFound } from './errors.js';
import { type Variant, VARIANTS, assetSource, byteResponse, syntheticSource } from './media.js';
import {
  DEFAULT_MODEL,
  DEFAULT_SECONDS,
  DEFAULT_SIZE,
  type VideoRef,
  parseCharacter,
  parseCreate,
  parseEdit,
  parseExtend,
  parseRemix,
} from './params.js';
import { REJECT_MARKER, type SimJob, type Simulator } from './state.js';

/** Throws the queued create failure (or the `[reject]` prompt rejection), if any. */
function checkCreateAllowed(sim: Simulator, prompt: string): void {
  const kind = sim.takeCreateFailure();
  if (kind) throw createFailure(kind);
  if (prompt.toLowerCase().includes(REJECT_MARKER)) throw createFailure('content_policy');
}

function existingJob(sim: Simulator, id: string): SimJob {
  const job = sim.get(id);
  if (!job) throw videoNotFound(id);
  return job;
}

/** The source of a remix / edit / extension must exist and be completed. */
function completedSource(sim: Simulator, id: string): SimJob {
  const job = existingJob(sim, id);
  const status = sim.status(job);
  if (status !== 'completed') {
    throw invalidRequest(`Video '${id}' is ${status}; only completed videos can be used as a source.`, 'video_id', 'video_not_ready');
  }
  return job;
}

/** Model, size and seconds of a source; an uploaded file counts as a 4 s, 720x1280 sora-2 clip. */
function sourceShape(sim: Simulator, ref: VideoRef): { model: string; size: string; seconds: string; id: string | null } {
  if ('id' in ref) {
    const src = completedSource(sim, ref.id);
    return { model: src.model, size: src.size, seconds: src.seconds, id: src.id };
  }
  return { model: DEFAULT_MODEL, size: DEFAULT_SIZE, seconds: DEFAULT_SECONDS, id: null };
}

function parseListQuery(c: Context): { after?: string; limit: number; order: 'asc' | 'desc' } {
  const limitRaw = c.req.query('limit');
  const orderRaw = c.req.query('order');
  const after = c.req.query('after') || undefined;
  let limit = 20;
  if (limitRaw !== undefined && limitRaw !== '') {
    limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw invalidRequest(`Invalid 'limit': '${limitRaw}'. Expected an integer between 1 and 100.`, 'limit');
    }
  }
  let order: 'asc' | 'desc' = 'desc';
  if (orderRaw !== undefined && orderRaw !== '') {
    if (orderRaw !== 'asc' && orderRaw !== 'desc') {
      throw invalidRequest(`Invalid 'order': '${orderRaw}'. Supported values are: 'asc', 'desc'.`, 'order');
    }
    order = orderRaw;
  }
  return { after, limit, order };
}

export function registerVideoRoutes(app: Hono, sim: Simulator): void {
  app.post('/v1/videos', async (c) => {
    const params = await parseCreate(await readFields(c.req.raw));
    checkCreateAllowed(sim, params.prompt);
    const job = sim.createJob({ kind: 'create', ...params });
    return c.json(sim.view(job));
  });

  app.get('/v1/videos', (c) => c.json(sim.list(parseListQuery(c))));

  // Registered before `/v1/videos/:id…` so `characters` and `edits` are never read as ids.
  app.post('/v1/videos/characters', async (c) => {
    const { name } = parseCharacter(await readFields(c.req.raw));
    return c.json(sim.createCharacter(name));
  });

  app.get('/v1/videos/characters/:id', (c) => {
    const id = c.req.param('id');
    const character = sim.getCharacter(id);
    if (!character) throw notFound(`Character with id '${id}' not found.`, 'character_id');
    return c.json(character);
  });

  app.post('/v1/videos/edits', async (c) => {
    const { prompt, video } = parseEdit(await readFields(c.req.raw));
    const src = sourceShape(sim, video);
    checkCreateAllowed(sim, prompt);
    const job = sim.createJob({ kind: 'edit', prompt, model: src.model, size: src.size, seconds: src.seconds, sourceVideoId: src.id });
    return c.json(sim.view(job));
  });

  app.post('/v1/videos/extensions', async (c) => {
    const { prompt, seconds, video } = parseExtend(await readFields(c.req.raw));
    const src = sourceShape(sim, video);
    checkCreateAllowed(sim, prompt);
    const total = String(Number(src.seconds) + Number(seconds));
    const job = sim.createJob({ kind: 'extension', prompt, model: src.model, size: src.size, seconds: total, sourceVideoId: src.id });
    return c.json(sim.view(job));
  });

  app.get('/v1/videos/:id', (c) => c.json(sim.view(existingJob(sim, c.req.param('id')))));

  app.delete('/v1/videos/:id', (c) => {
    const id = c.req.param('id');
    if (!sim.delete(id)) throw videoNotFound(id);
    return c.json({ id, object: 'video.deleted', deleted: true });
  });

  app.post('/v1/videos/:id/remix', async (c) => {
    const { prompt } = parseRemix(await readFields(c.req.raw));
    const src = completedSource(sim, c.req.param('id'));
    checkCreateAllowed(sim, prompt);
    const job = sim.createJob({
      kind: 'remix',
      prompt,
      model: src.model,
      size: src.size,
      seconds: src.seconds,
      remixedFromVideoId: src.id,
      sourceVideoId: src.id,
    });
    return c.json(sim.view(job));
  });

  app.get('/v1/videos/:id/content', (c) => {
    const id = c.req.param('id');
    const variantRaw = c.req.query('variant') || 'video';
    if (!VARIANTS.includes(variantRaw as Variant)) {
      throw invalidRequest(`Invalid value: '${variantRaw}'. Supported values are: 'video', 'thumbnail', 'spritesheet'.`, 'variant');
    }
    const variant = variantRaw as Variant;
    const job = existingJob(sim, id);
    const status = sim.status(job);
    if (status !== 'completed') {
      const why = status === 'failed' ? 'failed; it has no content' : `${status}; poll GET /v1/videos/${id} until it is completed`;
      throw notFound(`Video '${id}' is ${why}.`, 'video_id', status === 'failed' ? 'video_failed' : 'video_not_ready');
    }
    if (sim.contentExpired(job)) throw notFound(`The content of video '${id}' has expired.`, 'video_id', 'video_expired');
    const src = variant === 'video' && sim.contentBytes !== undefined ? syntheticSource(sim.contentBytes) : assetSource(variant);
    return byteResponse(src, c.req.header('range'));
  });
}
