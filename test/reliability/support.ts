import { PassThrough } from 'node:stream';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { buildDeps, startReelay, type RunningReelay } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createLogger } from '../../src/logging/logger.js';
import { createKey, type CreateKeyInput } from '../../src/keys/service.js';
import { parseUsd } from '../../src/money.js';
import type { PollTiming } from '../../src/billing/settlement.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import { fromAddress } from '../helpers/app-harness.js';

/**
 * Shared pieces of the reliability suite: reelay (in-process through app.request, or a real server
 * on 127.0.0.1) with every log line and every response captured, so that each test file can end by
 * proving that no secret leaked into a response, a log line, the database file or its WAL.
 */
export const UPSTREAM_KEY = 'sk-upstream-RELIABILITY-7f3a9c2e5b1d4a60';
export const ADMIN_TOKEN = 'reliability-admin-token-5c1e9a0b7d3f';

export class Capture {
  readonly logs: string[] = [];
  readonly responses: string[] = [];
  readonly secrets: string[] = [UPSTREAM_KEY, ADMIN_TOKEN];
  readonly stream = new PassThrough();
  constructor() {
    this.stream.on('data', (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n')) if (line) this.logs.push(line);
    });
  }
  /**
   * Reads a response whole and records it. The headers are copied first: once a real server has
   * started in this process, @hono/node-server's lightweight Response forgets headers that
   * middleware added after the fact when its body is read (an artifact of app.request only).
   */
  async recordResponse(res: Response): Promise<{ text: string; headers: Headers }> {
    const headers = new Headers(res.headers);
    const text = await res.text();
    this.responses.push(`${res.status} ${JSON.stringify([...headers])} ${text}`);
    return { text, headers };
  }
  /** Every occurrence of a secret (whole, or the random part of a reelay key) in `texts`. */
  static findSecrets(texts: Iterable<string>, secrets: string[], where: string): string[] {
    const needles = secrets.flatMap((s) => (s.startsWith('sk-reelay-') ? [s, s.slice('sk-reelay-'.length)] : [s]));
    const found: string[] = [];
    for (const t of texts) for (const n of needles) if (t.includes(n)) found.push(`${where}: …${n.slice(-6)} in ${t.slice(0, 160)}`);
    return found;
  }
  leaks(): string[] {
    return [...Capture.findSecrets(this.logs, this.secrets, 'log line'), ...Capture.findSecrets(this.responses, this.secrets, 'response')];
  }
}

/** The bytes of a SQLite file and its WAL (whatever is there right now), as latin1 text. */
export function databaseBytes(dbPath: string): string[] {
  return [dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p).toString('latin1'));
}

export interface ReelayOptions {
  upstreamUrl: string;
  env?: Record<string, string>;
  reconciler?: boolean;
  now?: () => number;
  pollTiming?: Partial<PollTiming>;
}

function configFor(dbPath: string, opts: ReelayOptions) {
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: dbPath,
    UPSTREAM_BASE_URL: opts.upstreamUrl,
    UPSTREAM_API_KEY: UPSTREAM_KEY,
    ADMIN_TOKEN,
    LOG_LEVEL: 'trace',
    // These tests count what reaches the upstream; the archive's background downloads (tested
    // on their own in test/e2e/archive*.test.ts) would add to it. A test may turn it on.
    ARCHIVE_URL: 'off',
    ...opts.env,
  });
}

/** A real reelay server on 127.0.0.1 (port 0) with a temporary SQLite file and captured logs. */
export async function startServer(opts: ReelayOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-rel-'));
  const dbPath = join(dir, 'reelay.db');
  const capture = new Capture();
  const config = configFor(dbPath, opts);
  const reelay: RunningReelay = await startReelay(config, {
    logger: createLogger('trace', capture.stream),
    reconciler: opts.reconciler,
    now: opts.now,
    pollTiming: opts.pollTiming,
  });
  const base = `http://127.0.0.1:${reelay.port}`;

  const newKey = async (creditUsd = '100.00', input: Partial<CreateKeyInput> = {}) => {
    const now = reelay.deps.now();
    const { key, secret } = await createKey(reelay.deps.store, { name: input.name ?? 'reliability', ...input }, now);
    const credit = parseUsd(creditUsd);
    if (credit > 0) await reelay.deps.store.appendCredit(key.id, credit, 'test credit', { actor: 'test', requestId: null, now });
    capture.secrets.push(secret);
    return { id: key.id, secret };
  };

  /** fetch against reelay; the response is recorded (body read) unless `stream` is set. */
  const call = async (path: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    const res = await fetch(base + path, { ...init, headers });
    const { text, headers: got } = await capture.recordResponse(res);
    return { status: res.status, headers: got, text, json: () => JSON.parse(text) as Record<string, any> };
  };

  return {
    reelay,
    base,
    port: reelay.port,
    dbPath,
    capture,
    newKey,
    call,
    raw: (payload: string | Buffer, o: RawOptions = {}) => rawExchange(reelay.port, payload, o).then((r) => (capture.responses.push(r.text), r)),
    violations: () => ledgerViolations(reelay.deps.store),
    /** Every leak in logs, responses, the database file and its WAL. */
    leaks: () => [...capture.leaks(), ...Capture.findSecrets(databaseBytes(dbPath), capture.secrets, 'database file')],
    async close() {
      await reelay.close(500);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Server = Awaited<ReturnType<typeof startServer>>;

/** The app in-process (app.request) over a temporary SQLite file, with captured logs and responses. */
export function inProcess(opts: ReelayOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-rel-'));
  const dbPath = join(dir, 'reelay.db');
  const capture = new Capture();
  const config = configFor(dbPath, opts);
  const database = openMigratedDatabase(dbPath);
  const deps = buildDeps(config, { database, logger: createLogger('trace', capture.stream), now: opts.now, pollTiming: opts.pollTiming });
  const app = createApp(deps);

  const newKey = async (creditUsd = '100.00', input: Partial<CreateKeyInput> = {}) => {
    const now = deps.now();
    const { key, secret } = await createKey(deps.store, { name: input.name ?? 'reliability', ...input }, now);
    const credit = parseUsd(creditUsd);
    if (credit > 0) await deps.store.appendCredit(key.id, credit, 'test credit', { actor: 'test', requestId: null, now });
    capture.secrets.push(secret);
    return { id: key.id, secret };
  };

  /** `from`: the client address the request comes from (wrong admin tokens are throttled per address). */
  const call = async (path: string, init: RequestInit & { key?: string; admin?: boolean; from?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    if (init.admin) headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
    const res = await app.request(path, { ...init, headers }, init.from === undefined ? undefined : fromAddress(init.from, headers));
    const status = res.status;
    const { text, headers: got } = await capture.recordResponse(res);
    let parsed: Record<string, any> | undefined;
    return {
      status,
      headers: got,
      text,
      json: () => (parsed ??= JSON.parse(text) as Record<string, any>),
    };
  };

  const createJson = (key: string, body: unknown, headers: Record<string, string> = {}) =>
    call('/v1/videos', { method: 'POST', key, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  return {
    app,
    deps,
    database,
    dbPath,
    capture,
    newKey,
    call,
    createJson,
    violations: () => ledgerViolations(deps.store),
    leaks: () => [...capture.leaks(), ...Capture.findSecrets(databaseBytes(dbPath), capture.secrets, 'database file')],
    async close() {
      await deps.requestLog.stop();
      await deps.upstreams.destroy().catch(() => {});
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type InProcess = ReturnType<typeof inProcess>;

export interface RawOptions {
  /** give up (and destroy the socket) after this long; default 3 s */
  timeoutMs?: number;
  /** write the payload in pieces, `dripMs` apart, `dripBytes` at a time */
  dripMs?: number;
  dripBytes?: number;
}

export interface RawResult {
  text: string;
  status: number | null;
  /** the server closed the connection (rather than us timing out) */
  closedByServer: boolean;
  elapsedMs: number;
  headers: Record<string, string>;
  body: string;
}

/** One exchange over a raw TCP socket: write the bytes, collect everything until the server closes. */
export function rawExchange(port: number, payload: string | Buffer, o: RawOptions = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    let drip: NodeJS.Timeout | null = null;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (drip) clearInterval(drip);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ text, status: m ? Number(m[1]) : null, closedByServer, elapsedMs: Date.now() - started, headers, body: rest.join('\r\n\r\n') });
    };
    const timer = setTimeout(() => finish(false), o.timeoutMs ?? 3000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    if (!o.dripMs) {
      socket.write(bytes);
      return;
    }
    let at = 0;
    const step = o.dripBytes ?? 1;
    drip = setInterval(() => {
      if (done || socket.destroyed) return;
      if (at >= bytes.length) return;
      socket.write(bytes.subarray(at, at + step));
      at += step;
    }, o.dripMs);
  });
}

/** Parses one raw response body as OpenAI's error envelope (or null). */
export function envelope(body: string): { message: string; type: string; param: string | null; code: string } | null {
  try {
    const v = JSON.parse(body) as { error?: { message: string; type: string; param: string | null; code: string } };
    return v.error && typeof v.error.code === 'string' && typeof v.error.message === 'string' ? v.error : null;
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true or `ms` pass. */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms = 5000, step = 20): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return true;
    await sleep(step);
  }
  return fn();
}
