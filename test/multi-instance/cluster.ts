/**
 * Shared pieces of the multi-instance tests: several real reelay processes (`node --import tsx
 * src/main.ts`) on one PostgreSQL database, a fake upstream whose jobs the test steers and which
 * records every create and every status poll, and direct access to the database for keys and
 * checks.
 */
import type { ServerResponse } from 'node:http';
import { openPgDatabase, type PgDatabase } from '../../src/db/pg/client.js';
import { createPgStore } from '../../src/db/pg/store.js';
import type { Store } from '../../src/store/store.js';
import { createKey, type CreateKeyInput } from '../../src/keys/service.js';
import { freePort, ReelayProcess } from '../reliability/child.js';
import { startRecordingUpstream, type RecordedRequest } from '../helpers/recording-upstream.js';

export { ReelayProcess, freePort };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rate of sora-2 at its default size: 0.10 USD a second. */
export const RATE_MICROS = 100_000;

/** Starts `n` reelay processes on `dbUrl` (instances `${prefix}0`, `${prefix}1`, …), all at once. */
export async function startInstances(n: number, dbUrl: string, upstreamUrl: string, env: Record<string, string> = {}, prefix = 'inst-'): Promise<ReelayProcess[]> {
  const procs: ReelayProcess[] = [];
  for (let i = 0; i < n; i++) {
    procs.push(new ReelayProcess(await freePort(), dbUrl, upstreamUrl, { LOG_LEVEL: 'warn', INSTANCE_ID: `${prefix}${i}`, ...env }));
  }
  await Promise.all(procs.map((p) => p.start()));
  return procs;
}

/** SIGKILLs every process still running (afterAll). */
export async function killAll(procs: Iterable<ReelayProcess>): Promise<void> {
  await Promise.all([...procs].map((p) => p.stop('SIGKILL')));
}

/** A store on the test database, for making keys and reading the outcome. */
export function openTestStore(url: string): { store: Store; database: PgDatabase } {
  const database = openPgDatabase(url, { max: 3 });
  return { store: createPgStore(database), database };
}

export async function makeKey(store: Store, input: CreateKeyInput, creditMicros: number): Promise<{ id: string; secret: string }> {
  const { key, secret } = await createKey(store, input, Date.now());
  if (creditMicros > 0) await store.appendCredit(key.id, creditMicros, 'multi-instance test', { actor: 'test', requestId: null, now: Date.now() });
  return { id: key.id, secret };
}

export interface UpJob {
  id: string;
  prompt: string;
  seconds: string;
  status: 'queued' | 'in_progress' | 'completed' | 'failed';
}

export interface UpPoll {
  videoId: string;
  at: number;
}

/**
 * A fake upstream: creates answer a queued video (after `createDelayMs`), status polls answer the
 * job as the test set it (running until told otherwise). `creates` and `polls` record everything.
 */
export async function startFakeUpstream() {
  const jobs = new Map<string, UpJob>();
  const creates: UpJob[] = [];
  const polls: UpPoll[] = [];
  let seq = 0;
  const state = {
    createDelayMs: 0,
    /** While set, status polls wait for it before answering. */
    pollGate: null as Promise<void> | null,
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const videoObject = (j: UpJob) => ({
    id: j.id,
    object: 'video',
    model: 'sora-2',
    status: j.status,
    progress: j.status === 'completed' ? 100 : j.status === 'in_progress' ? 50 : 0,
    seconds: j.seconds,
    size: '720x1280',
    created_at: Math.floor(Date.now() / 1000),
    completed_at: j.status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    ...(j.status === 'failed' && { error: { code: 'content_policy_violation', message: 'refused' } }),
  });
  const up = await startRecordingUpstream(async (req: RecordedRequest, res) => {
    const path = req.url.split('?')[0]!;
    if (req.method === 'POST' && path === '/v1/videos') {
      const body = JSON.parse(req.body.toString('utf8') || '{}') as { prompt?: string; seconds?: string };
      const job: UpJob = { id: `video_mi_${++seq}_${Math.random().toString(16).slice(2, 8)}`, prompt: body.prompt ?? '', seconds: body.seconds ?? '4', status: 'queued' };
      jobs.set(job.id, job);
      creates.push(job);
      if (state.createDelayMs > 0) await sleep(state.createDelayMs);
      send(res, 200, videoObject(job));
      return;
    }
    const m = /^\/v1\/videos\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && m) {
      polls.push({ videoId: m[1]!, at: Date.now() });
      if (state.pollGate) await state.pollGate;
      const job = jobs.get(m[1]!);
      if (!job) return send(res, 404, { error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } });
      if (job.status === 'queued') job.status = 'in_progress';
      send(res, 200, videoObject(job));
      return;
    }
    send(res, 404, { error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } });
  });
  return { url: up.url, jobs, creates, polls, state, close: up.close };
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: Record<string, any>;
}

/** One HTTP call; the body parsed as JSON when it is JSON. */
export async function call(url: string, init: RequestInit): Promise<CallResult> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Record<string, any> = {};
  try {
    body = JSON.parse(text) as Record<string, any>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

export function createVideo(base: string, secret: string, body: Record<string, unknown>, idemKey?: string): Promise<CallResult> {
  return call(`${base}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...(idemKey && { 'idempotency-key': idemKey }) },
    body: JSON.stringify(body),
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Raw rows of the test database. */
export async function query<T = Record<string, unknown>>(database: PgDatabase, text: string, params: unknown[] = []): Promise<T[]> {
  return (await database.pool.query(text, params)).rows as T[];
}
