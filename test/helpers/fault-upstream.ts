import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A scriptable fake of the upstream video API on 127.0.0.1, for fault injection.
 *
 * By default it behaves like a small, well-mannered provider: creates answer a queued video
 * object, status polls answer the job (which completes after `completeAfterMs`, if set, or when a
 * test says so with `setJob`), content is streamed in chunks. Any request can instead be given a
 * fault: scripted rules (`script`, first match wins, optionally only `times` times) or a chooser
 * function (`choose`, used by the soak run). Connection refusal has no request to attach to, so
 * it is a server-wide switch: `refuseConnections()` stops listening and drops every connection
 * (the port is kept), `acceptConnections()` listens again on the same port.
 *
 * Every request is recorded (method, url, headers, body size, the behaviour applied, when its
 * response closed), so tests can prove that a create was sent once, that a rejected request never
 * arrived, that no client credential reached the upstream and that a cancelled download released
 * the upstream socket.
 */
export type Behaviour =
  /** the default provider behaviour (optionally answering with another success status) */
  | { kind: 'ok'; status?: number }
  /** read the request, never answer (until the connection is closed) */
  | { kind: 'hang' }
  /** wait, then behave as `then` (default: ok) */
  | { kind: 'delay'; ms: number; then?: Behaviour }
  /** destroy the connection as soon as the request head arrives, body unread */
  | { kind: 'reset-before-body' }
  /** read the whole body, then destroy the connection without answering */
  | { kind: 'reset-after-body' }
  /** answer this status (any 100–999) with a JSON error body, optional retry-after and headers */
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; headers?: Record<string, string> }
  /** 200 (or `status`) with a body that is not JSON */
  | { kind: 'malformed-json'; status?: number; body?: string }
  /** a well-formed video object whose job status is `status` (e.g. one the contract does not know) */
  | { kind: 'job-status'; status: string }
  /** content: send headers and `afterBytes` bytes of a longer body, then nothing more */
  | { kind: 'stall-midway'; afterBytes: number; totalBytes?: number }
  /** content: send headers and `afterBytes` bytes of a longer body, then destroy the connection */
  | { kind: 'break-midway'; afterBytes: number; totalBytes?: number }
  /** write these bytes to the socket as the whole response, then close it (malformed HTTP) */
  | { kind: 'raw'; data: string };

export interface FaultRequest {
  seq: number;
  method: string;
  url: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** bytes of request body read (0 when the connection was reset before reading) */
  bodyBytes: number;
  body: Buffer;
  behaviour: Behaviour['kind'];
  receivedAt: number;
  /** when the upstream side of this exchange closed (response finished or socket gone) */
  closedAt: number | null;
  /** true when the response was finished completely */
  finished: boolean;
}

export interface Rule {
  method?: string;
  /** matched against the path (without query) */
  path?: string | RegExp;
  /** how many requests this rule applies to (default: unlimited) */
  times?: number;
  behaviour: Behaviour;
}

export interface FakeJob {
  id: string;
  object: 'video';
  model: string;
  status: string;
  progress: number;
  seconds: string;
  size: string;
  created_at: number;
  completed_at: number | null;
  error: { code: string; message: string } | null;
  [k: string]: unknown;
}

export interface FaultUpstreamOptions {
  /** the credential the upstream expects (requests without it get 401) */
  apiKey?: string;
  /** auto-complete jobs this long after creation (default: never, tests call setJob) */
  completeAfterMs?: number;
  /** size of the content body (default 256 KiB) */
  contentBytes?: number;
  /** content is written in chunks of this size (default 16 KiB) */
  chunkBytes?: number;
  /** pause between content chunks in ms (default 0) */
  chunkDelayMs?: number;
  port?: number;
}

const isCreatePath = (path: string) => /^\/v1\/videos(\/edits|\/extensions|\/[^/]+\/remix)?$/.test(path);

export async function startFaultUpstream(opts: FaultUpstreamOptions = {}) {
  const requests: FaultRequest[] = [];
  const jobs = new Map<string, FakeJob & { createdMs: number }>();
  let rules: Rule[] = [];
  let chooser: ((req: FaultRequest) => Behaviour | undefined) | null = null;
  const sockets = new Set<Socket>();
  let seq = 0;
  const contentBytes = opts.contentBytes ?? 256 * 1024;
  const chunkBytes = opts.chunkBytes ?? 16 * 1024;

  const pick = (rec: FaultRequest): Behaviour => {
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.method && r.method !== rec.method) continue;
      if (r.path !== undefined && (typeof r.path === 'string' ? r.path !== rec.path : !r.path.test(rec.path))) continue;
      if (r.times !== undefined) {
        r.times--;
        if (r.times <= 0) rules.splice(i, 1);
      }
      return r.behaviour;
    }
    return chooser?.(rec) ?? { kind: 'ok' };
  };

  const readBody = (req: IncomingMessage, rec: FaultRequest) =>
    new Promise<void>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        rec.bodyBytes += c.length;
        chunks.push(c);
      });
      req.on('end', () => {
        rec.body = Buffer.concat(chunks);
        resolve();
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });

  const sendJson = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
    const body = typeof value === 'string' ? value : JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-request-id': `upreq_${seq}`, ...headers });
    res.end(body);
  };

  const jobView = (j: FakeJob & { createdMs: number }): FakeJob => {
    if (opts.completeAfterMs !== undefined && (j.status === 'queued' || j.status === 'in_progress') && Date.now() - j.createdMs >= opts.completeAfterMs) {
      // A prompt containing "[fail]" makes the job fail instead of completing.
      const fails = typeof j.prompt === 'string' && j.prompt.includes('[fail]');
      j.status = fails ? 'failed' : 'completed';
      j.progress = fails ? 0 : 100;
      j.completed_at = Math.floor(Date.now() / 1000);
      if (fails) j.error = { code: 'moderation_blocked', message: 'injected failure' };
    }
    const { createdMs: _ignored, ...view } = j;
    return view;
  };

  const streamContent = (res: ServerResponse, total: number, stopAt: number | null, onStop: (() => void) | null) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(total), 'accept-ranges': 'bytes', 'x-request-id': `upreq_${seq}` });
    let sent = 0;
    const chunk = Buffer.alloc(chunkBytes, 0x61);
    const pump = () => {
      while (sent < total) {
        if (stopAt !== null && sent >= stopAt) {
          onStop?.();
          return;
        }
        const n = Math.min(chunkBytes, total - sent, stopAt !== null ? stopAt - sent : Infinity);
        sent += n;
        const ok = res.write(n === chunkBytes ? chunk : chunk.subarray(0, n));
        if (opts.chunkDelayMs) {
          setTimeout(pump, opts.chunkDelayMs);
          return;
        }
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  };

  const behaveOk = (req: IncomingMessage, res: ServerResponse, rec: FaultRequest, okStatus = 200) => {
    const path = rec.path;
    if (rec.method === 'POST' && isCreatePath(path)) {
      let seconds = '4';
      let model = 'sora-2';
      let size = '720x1280';
      let prompt: string | null = null;
      try {
        const parsed = JSON.parse(rec.body.toString('utf8')) as Record<string, unknown>;
        if (typeof parsed.prompt === 'string') prompt = parsed.prompt;
        if (typeof parsed.seconds === 'string' || typeof parsed.seconds === 'number') seconds = String(parsed.seconds);
        if (typeof parsed.model === 'string') model = parsed.model;
        if (typeof parsed.size === 'string') size = parsed.size;
      } catch {
        /* multipart or empty: defaults */
      }
      const id = `video_${randomBytes(10).toString('hex')}`;
      const job = { id, object: 'video' as const, model, status: 'queued', progress: 0, seconds, size, prompt, created_at: Math.floor(Date.now() / 1000), completed_at: null, error: null, createdMs: Date.now() };
      jobs.set(id, job);
      return sendJson(res, okStatus, jobView(job));
    }
    const content = /^\/v1\/videos\/([^/]+)\/content$/.exec(path);
    if (rec.method === 'GET' && content) {
      if (!jobs.has(decodeURIComponent(content[1]!))) return sendJson(res, 404, { error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } });
      return streamContent(res, contentBytes, null, null);
    }
    // Before `/v1/videos/{id}`: `characters` is not a video id.
    if (path.startsWith('/v1/videos/characters')) return sendJson(res, 200, { id: 'char_1', object: 'character' });
    const one = /^\/v1\/videos\/([^/]+)$/.exec(path);
    if (one) {
      const job = jobs.get(decodeURIComponent(one[1]!));
      if (!job) return sendJson(res, 404, { error: { message: 'Video not found', type: 'invalid_request_error', param: null, code: 'not_found' } });
      if (rec.method === 'DELETE') {
        jobs.delete(job.id);
        return sendJson(res, 200, { id: job.id, object: 'video.deleted', deleted: true });
      }
      return sendJson(res, okStatus, jobView(job));
    }
    return sendJson(res, 404, { error: { message: 'unknown url', type: 'invalid_request_error', param: null, code: 'unknown_url' } });
  };

  const behave = async (b: Behaviour, req: IncomingMessage, res: ServerResponse, rec: FaultRequest): Promise<void> => {
    switch (b.kind) {
      case 'ok':
        return behaveOk(req, res, rec, b.status);
      case 'hang':
        return;
      case 'delay':
        await new Promise((r) => setTimeout(r, b.ms));
        if (res.destroyed) return;
        return behave(b.then ?? { kind: 'ok' }, req, res, rec);
      case 'reset-before-body':
      case 'reset-after-body':
        req.socket.destroy();
        return;
      case 'status': {
        const headers: Record<string, string> = { ...b.headers };
        if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
        const body = b.body ?? JSON.stringify({ error: { message: `injected ${b.status}`, type: b.status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: `injected_${b.status}` } });
        return sendJson(res, b.status, body, headers);
      }
      case 'malformed-json':
        return sendJson(res, b.status ?? 200, b.body ?? '{"id": "video_trunc', {});
      case 'job-status': {
        const m = /^\/v1\/videos\/([^/]+)$/.exec(rec.path);
        const job = m ? jobs.get(decodeURIComponent(m[1]!)) : undefined;
        const id = job?.id ?? `video_${randomBytes(10).toString('hex')}`;
        if (!job && rec.method === 'POST') {
          // The answer carries the scripted status; the job itself lives on (unknown statuses as queued).
          const stored = ['queued', 'in_progress', 'completed', 'failed'].includes(b.status) ? b.status : 'queued';
          jobs.set(id, { id, object: 'video', model: 'sora-2', status: stored, progress: 0, seconds: '4', size: '720x1280', created_at: Math.floor(Date.now() / 1000), completed_at: null, error: null, createdMs: Date.now() });
        }
        return sendJson(res, 200, { ...(job ? jobView(job) : { id, object: 'video', model: 'sora-2', progress: 0, seconds: '4', size: '720x1280' }), status: b.status });
      }
      case 'stall-midway':
        return streamContent(res, b.totalBytes ?? contentBytes, b.afterBytes, null);
      case 'break-midway':
        return streamContent(res, b.totalBytes ?? contentBytes, b.afterBytes, () => setTimeout(() => req.socket.destroy(), 10));
      case 'raw':
        req.socket.end(b.data);
        return;
    }
  };

  const server: Server = createServer(async (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const rec: FaultRequest = {
      seq: ++seq,
      method: req.method ?? '',
      url,
      path: q === -1 ? url : url.slice(0, q),
      headers: req.headers,
      bodyBytes: 0,
      body: Buffer.alloc(0),
      behaviour: 'ok',
      receivedAt: Date.now(),
      closedAt: null,
      finished: false,
    };
    requests.push(rec);
    res.on('finish', () => (rec.finished = true));
    res.on('close', () => (rec.closedAt ??= Date.now()));
    const b = pick(rec);
    rec.behaviour = b.kind;
    if (b.kind === 'reset-before-body') {
      req.socket.destroy();
      rec.closedAt = Date.now();
      return;
    }
    await readBody(req, rec);
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return sendJson(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
    try {
      await behave(b, req, res, rec);
    } catch {
      res.destroy();
    }
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    jobs,
    /** Requests that could have created a job upstream (billable POSTs). */
    creates: () => requests.filter((r) => r.method === 'POST' && isCreatePath(r.path)),
    /** Appends rules; the first matching rule decides a request's behaviour. */
    script(...more: Rule[]) {
      rules.push(...more);
    },
    /** Removes every rule and the chooser: back to the default behaviour. */
    reset() {
      rules = [];
      chooser = null;
    },
    /** A function that picks a behaviour per request (after the rules); undefined means ok. */
    choose(fn: ((req: FaultRequest) => Behaviour | undefined) | null) {
      chooser = fn;
    },
    /** Changes a job the upstream knows (status, seconds, …). */
    setJob(id: string, patch: Partial<FakeJob>) {
      const j = jobs.get(id);
      if (!j) throw new Error(`fault upstream: no job ${id}`);
      Object.assign(j, patch);
    },
    /** Makes the upstream forget a job (it then answers 404). */
    forget(id: string) {
      jobs.delete(id);
    },
    /** Connection refused: stop listening and drop every open connection. */
    async refuseConnections() {
      if (!listening) return;
      listening = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        dropAll();
      });
    },
    /** Listen again on the same port. */
    async acceptConnections() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    get openSockets() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll();
        if (!listening) return resolve();
        listening = false;
        server.close(() => resolve());
      }),
  };
}

export type FaultUpstream = Awaited<ReturnType<typeof startFaultUpstream>>;
