/**
 * The soak run: `npm run soak [-- --minutes N]` (or SOAK_MINUTES=N; default 10).
 *
 * A real reelay process (`src/main.ts`, what `npm start` runs) against the fault upstream on
 * 127.0.0.1, under a steady mixed load — creates (some idempotent replays, some invalid), polls,
 * lists, downloads (some cancelled midway), deletes, cross-tenant probes and malformed raw
 * requests — while a share of the upstream calls is given a fault and the upstream refuses
 * connections now and then. At the end it lets the reconciler settle the open jobs, checks the
 * ledger, stops reelay with SIGTERM and prints a report.
 *
 * Targets (exit code 1 when missed): gateway-originated 5xx = 0, ledger invariant violations = 0,
 * wrongly charged jobs = 0, creates sent twice = 0, no secret in reelay's output or database files,
 * reelay never exits on its own, SIGTERM exits 0, open descriptors back near the start once idle.
 *
 * Options: --minutes N  --rps N (default 40)  --concurrency N (default 16)  --fault-rate F (0–1,
 * default 0.1)  --seed N  --json (print the report as JSON too)  --postgres [server-url] (run on
 * PostgreSQL instead of a SQLite file: a database of its own, created and dropped, on the server at
 * server-url or TEST_DATABASE_URL, its maintenance database with a user that may create databases;
 * without either, an embedded server is started as the tests do; SOAK_POSTGRES=1 works too).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startFaultUpstream, type Behaviour, type FaultRequest } from '../helpers/fault-upstream.js';
import { pgTestDatabase, sqliteTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { startEmbeddedPg, type PgServer } from '../helpers/pg-server.js';
import { createKey } from '../../src/keys/service.js';
import { freePort, ReelayProcess } from '../reliability/child.js';
import { ADMIN_TOKEN, Capture, UPSTREAM_KEY } from '../reliability/support.js';

// --- options ------------------------------------------------------------------------------------

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const fromArg = i !== -1 ? process.argv[i + 1] : undefined;
  const env = process.env[`SOAK_${name.toUpperCase().replace(/-/g, '_')}`];
  const raw = fromArg ?? env;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`soak: --${name} must be a non-negative number (got ${raw})\n`);
    process.exit(2);
  }
  return n;
}

const MINUTES = option('minutes', 10);
const RPS = option('rps', 40);
const CONCURRENCY = Math.max(1, Math.round(option('concurrency', 16)));
const FAULT_RATE = Math.min(1, option('fault-rate', 0.1));
const SEED = Math.round(option('seed', Date.now() % 1_000_000));
const JSON_REPORT = process.argv.includes('--json');
/** --postgres [server-url] or SOAK_POSTGRES=1: the server URL ('' = TEST_DATABASE_URL or embedded), or null for SQLite. */
const POSTGRES: string | null = (() => {
  const i = process.argv.indexOf('--postgres');
  if (i === -1) return process.env.SOAK_POSTGRES === '1' ? '' : null;
  const next = process.argv[i + 1];
  return next && /^postgres(ql)?:\/\//.test(next) ? next : '';
})();
const DURATION_MS = Math.round(MINUTES * 60_000);
const CONTENT_BYTES = 512 * 1024;

// --- a seeded PRNG for the choice of actions and faults ------------------------------------------

let state = SEED >>> 0 || 1;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
function weighted<T extends string>(table: Record<T, number>): T {
  const total = Object.values<number>(table).reduce((a, b) => a + b, 0);
  let r = random() * total;
  for (const [k, w] of Object.entries<number>(table)) {
    r -= w;
    if (r < 0) return k as T;
  }
  return Object.keys(table)[0] as T;
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- counters -------------------------------------------------------------------------------------

const counts = {
  requests: 0,
  byAction: {} as Record<string, number>,
  byStatus: {} as Record<string, number>,
  faults: {} as Record<string, number>,
  faultMapped5xx: 0,
  upstreamPassed5xx: 0,
  gateway5xx: [] as string[],
  unexpected4xx: [] as string[],
  cancelledDownloads: 0,
  faultedDownloads: 0,
  completeDownloads: 0,
  unexpectedClientErrors: [] as string[],
  refuseWindows: 0,
  invariantChecks: 0,
  invariantViolations: [] as string[],
};
const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** soak ids whose upstream call was given a fault (so a 5xx for them is the contract's mapping) */
const faulted = new Set<string>();
/**
 * Faulted status lookups that carried no soak id: reelay's own (the reconciler's polls, and the
 * lookup a download of an unfinished job makes before asking for the content), by video and time.
 */
const faultedLookups: { videoId: string; at: number }[] = [];
/** Did reelay's own lookup of this video get a fault while the request ran? */
function lookupFaultedDuring(path: string, start: number, end: number): boolean {
  const videoId = /^\/v1\/videos\/(video_[^/?]+)/.exec(path)?.[1];
  return videoId !== undefined && faultedLookups.some((f) => f.videoId === videoId && f.at >= start && f.at <= end);
}
/** Idempotency-Keys whose first answer was a 5xx mapped from a fault (replays repeat it, by design). */
const faultedIdempotencyKeys = new Set<string>();
/** When the upstream refused connections ([from, to]; `to` null while it still does). */
const refuseWindows: { from: number; to: number | null }[] = [];
/** Did a request that ran from `start` to `end` overlap a refusal window (with a little slack)? */
function duringRefusal(start: number, end: number): boolean {
  return refuseWindows.some((w) => start <= (w.to ?? end) + 250 && end >= w.from);
}

// --- the fault plan -------------------------------------------------------------------------------

function faultFor(r: FaultRequest): Behaviour | undefined {
  // The request's soak id rides in the user agent: only allow-listed headers reach the upstream.
  const sid = /^reelay-soak\/(\S+)$/.exec(String(r.headers['user-agent'] ?? ''))?.[1] ?? null;
  if (random() >= FAULT_RATE) return undefined;
  const isContent = r.path.endsWith('/content');
  const kinds: Behaviour[] = [
    { kind: 'hang' },
    { kind: 'delay', ms: 500 + Math.floor(random() * 2500) },
    { kind: 'reset-before-body' },
    { kind: 'reset-after-body' },
    { kind: 'status', status: pick([500, 502, 503]), retryAfter: '2' },
    { kind: 'status', status: 429, retryAfter: '3' },
    { kind: 'status', status: pick([418, 451, 599, 700]) },
    { kind: 'malformed-json' },
    { kind: 'job-status', status: pick(['archived', 'cancelled', '']) },
    { kind: 'raw', data: 'HTTP/1.1 200 OK\r\ncontent-length: zz\r\n\r\n' },
  ];
  if (isContent) kinds.push({ kind: 'stall-midway', afterBytes: 64 * 1024, totalBytes: CONTENT_BYTES }, { kind: 'break-midway', afterBytes: 64 * 1024, totalBytes: CONTENT_BYTES });
  let b = pick(kinds);
  if (isContent && b.kind === 'job-status') b = { kind: 'break-midway', afterBytes: 100 * 1024, totalBytes: CONTENT_BYTES };
  bump(counts.faults, b.kind === 'status' ? `status ${b.status}` : b.kind);
  if (sid) faulted.add(sid);
  else if (/^\/v1\/videos\/video_[^/]+$/.test(r.path)) faultedLookups.push({ videoId: r.path.slice('/v1/videos/'.length), at: Date.now() });
  return b;
}

// --- main -----------------------------------------------------------------------------------------

interface Sample {
  at: number;
  rssKb: number;
  fds: number;
}

function sampleProcess(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { at: Date.now(), rssKb, fds };
}

async function main(): Promise<number> {
  const started = Date.now();
  const up = await startFaultUpstream({ completeAfterMs: 3000, contentBytes: CONTENT_BYTES, chunkBytes: 16 * 1024 });
  let pgServer: PgServer | null = null;
  let db: TestDatabase;
  if (POSTGRES === null) db = sqliteTestDatabase('reelay-soak-');
  else {
    const serverUrl = POSTGRES || process.env.TEST_DATABASE_URL;
    if (!serverUrl) process.stderr.write('soak: starting an embedded PostgreSQL server\n');
    pgServer = serverUrl ? null : await startEmbeddedPg();
    db = await pgTestDatabase(serverUrl ?? pgServer!.url);
  }

  // Keys, made before reelay starts: four tenants with plenty of credit.
  const setup = await db.openStore();
  const store = setup.store;
  const tenants: { id: string; secret: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const { key, secret } = await createKey(store, { name: `soak ${i}` }, Date.now());
    await store.appendCredit(key.id, 10_000_000_000, 'soak credit', { actor: 'soak', requestId: null, now: Date.now() });
    tenants.push({ id: key.id, secret });
  }
  await setup.close();

  const reelay = new ReelayProcess(await freePort(), db.url, up.url, {
    LOG_LEVEL: 'info',
    RECONCILER_INTERVAL_MS: '500',
    RECONCILER_MIN_POLL_MS: '1000',
    UPSTREAM_CONNECT_TIMEOUT_MS: '1000',
    UPSTREAM_HEADERS_TIMEOUT_MS: '2000',
    UPSTREAM_BODY_TIMEOUT_MS: '2000',
    HTTP_HEADERS_TIMEOUT_MS: '5000',
    HTTP_REQUEST_TIMEOUT_MS: '30000',
  });
  await reelay.start();
  const pid = reelay.proc!.pid!;
  let crashed: string | null = null;
  reelay.proc!.once('exit', (code, signal) => {
    if (!stopping) crashed = `reelay exited on its own (code ${code}, signal ${signal})`;
  });
  let stopping = false;
  await sleep(500);
  const first = sampleProcess(pid);
  const samples: Sample[] = [first];
  up.choose(faultFor);

  const videos: { id: string; tenant: number }[] = [];
  let seq = 0;
  const base = reelay.base;

  /** One request; classifies the answer. `expect4xx` marks requests that are meant to be refused. */
  async function call(action: string, path: string, init: RequestInit & { tenant?: number; expect?: number[] } = {}) {
    const sid = `s${++seq}`;
    const headers = new Headers(init.headers);
    headers.set('user-agent', `reelay-soak/${sid}`);
    if (init.tenant !== undefined) headers.set('authorization', `Bearer ${tenants[init.tenant]!.secret}`);
    counts.requests++;
    bump(counts.byAction, action);
    const sentAt = Date.now();
    const res = await fetch(base + path, { ...init, headers });
    bump(counts.byStatus, String(res.status));
    const text = action === 'download' && res.status === 200 ? '' : await res.text();
    if (res.status >= 500) {
      let code = '';
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
      } catch {
        /* not JSON */
      }
      const idem = headers.get('idempotency-key');
      const replayed = res.headers.get('idempotent-replayed') === 'true';
      if (code.startsWith('injected_')) counts.upstreamPassed5xx++;
      else if (code.startsWith('upstream_') && replayed && idem !== null && faultedIdempotencyKeys.has(idem)) counts.faultMapped5xx++;
      else if (code.startsWith('upstream_') && !replayed && (faulted.has(sid) || duringRefusal(sentAt, Date.now()) || lookupFaultedDuring(path, sentAt, Date.now()))) {
        counts.faultMapped5xx++;
        if (idem !== null) faultedIdempotencyKeys.add(idem);
      } else counts.gateway5xx.push(`${action} ${path} → ${res.status} ${text.slice(0, 200)}`);
    } else if (res.status >= 400 && init.expect && !init.expect.includes(res.status) && !faulted.has(sid)) {
      counts.unexpected4xx.push(`${action} ${path} → ${res.status} ${text.slice(0, 200)}`);
    }
    return { sid, res, text };
  }

  const actions = {
    create: 22,
    createReplay: 3,
    createInvalid: 4,
    poll: 30,
    list: 8,
    download: 8,
    cancelDownload: 3,
    crossTenant: 6,
    delete: 2,
    models: 3,
    malformedRaw: 3,
    adminWithKey: 2,
  };

  async function act(): Promise<void> {
    const t = Math.floor(random() * tenants.length);
    const mine = videos.filter((v) => v.tenant === t);
    const action = weighted(actions);
    switch (action) {
      case 'create':
      case 'createReplay': {
        const body = JSON.stringify({ prompt: random() < 0.15 ? 'soak [fail]' : 'soak', seconds: pick(['4', '8', '12']), model: pick(['sora-2', 'sora-2-pro']) });
        const idem = action === 'createReplay' ? `replay-${t}-${Math.floor(random() * 20)}` : undefined;
        const r = await call(action, '/v1/videos', {
          method: 'POST',
          tenant: t,
          headers: { 'content-type': 'application/json', 'x-client-request-id': `c${seq + 1}`, ...(idem ? { 'idempotency-key': idem } : {}) },
          body: idem ? JSON.stringify({ prompt: `replay ${idem}`, seconds: '4' }) : body,
          expect: [200, 409, 429],
        });
        if (r.res.status === 200) {
          const id = (JSON.parse(r.text) as { id?: string }).id;
          if (id && !videos.some((v) => v.id === id)) videos.push({ id, tenant: t });
        }
        return;
      }
      case 'createInvalid': {
        const bad = pick([{ prompt: 'p', seconds: 'NaN' }, { prompt: 'p', size: '1x1' }, { prompt: 7 }, { model: 'nope', prompt: 'p' }, JSON.parse('{"__proto__":{"x":1},"prompt":"p","seconds":-4}')]);
        await call(action, '/v1/videos', { method: 'POST', tenant: t, headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad), expect: [400] });
        return;
      }
      case 'poll': {
        if (mine.length === 0) return;
        await call(action, `/v1/videos/${pick(mine.slice(-30)).id}`, { tenant: t, expect: [200, 404, 429] });
        return;
      }
      case 'list':
        await call(action, `/v1/videos?limit=${1 + Math.floor(random() * 100)}&order=${pick(['asc', 'desc'])}`, { tenant: t, expect: [200] });
        return;
      case 'download':
      case 'cancelDownload': {
        if (mine.length === 0) return;
        const ctrl = new AbortController();
        const v = pick(mine);
        let r;
        try {
          r = await call('download', `/v1/videos/${v.id}/content`, { tenant: t, signal: ctrl.signal, expect: [200, 404, 429] });
        } catch (err) {
          counts.unexpectedClientErrors.push(`download headers: ${(err as Error).message}`);
          return;
        }
        if (r.res.status !== 200) {
          await r.res.arrayBuffer().catch(() => {});
          return;
        }
        try {
          if (action === 'cancelDownload') {
            const reader = r.res.body!.getReader();
            await reader.read();
            ctrl.abort();
            counts.cancelledDownloads++;
            return;
          }
          const bytes = (await r.res.arrayBuffer()).byteLength;
          if (bytes === CONTENT_BYTES) counts.completeDownloads++;
          else if (faulted.has(r.sid)) counts.faultedDownloads++;
          else counts.unexpectedClientErrors.push(`download ${v.id}: ${bytes} bytes`);
        } catch (err) {
          if (faulted.has(r.sid)) counts.faultedDownloads++;
          else counts.unexpectedClientErrors.push(`download body: ${(err as Error).message}`);
        }
        return;
      }
      case 'crossTenant': {
        const other = videos.filter((v) => v.tenant !== t);
        const id = other.length > 0 && random() < 0.7 ? pick(other).id : `video_${Math.floor(random() * 1e12).toString(16)}`;
        const path = pick([`/v1/videos/${id}`, `/v1/videos/${id}/content`]);
        const r = await call(action, path, { tenant: t, expect: [404] });
        if (r.res.status !== 404) counts.unexpected4xx.push(`cross-tenant ${path} → ${r.res.status}`);
        if (path.endsWith('/content')) await r.res.arrayBuffer().catch(() => {});
        return;
      }
      case 'delete': {
        if (mine.length < 10) return;
        const v = mine[0]!;
        const r = await call(action, `/v1/videos/${v.id}`, { method: 'DELETE', tenant: t, expect: [200, 404] });
        if (r.res.status === 200 || r.res.status === 404) videos.splice(videos.indexOf(v), 1);
        return;
      }
      case 'models':
        await call(action, '/v1/models', { tenant: t, expect: [200] });
        return;
      case 'adminWithKey':
        await call(action, '/admin/keys', { tenant: t, expect: [403] });
        return;
      case 'malformedRaw': {
        counts.requests++;
        bump(counts.byAction, action);
        const payload = pick([
          `GET /v1/videos HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n`,
          `GET /v1/videos HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
          `POST /v1/videos HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n`,
          `GET /v1/videos HTTP/1.1\r\nhost: a b\r\n\r\n`,
        ]);
        const status = await new Promise<number>((resolve) => {
          const s = connect(reelay.port, '127.0.0.1');
          let text = '';
          s.on('data', (d: Buffer) => (text += d.toString('latin1')));
          s.on('error', () => {});
          s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
          s.setTimeout(5000, () => s.destroy());
          s.end(payload);
        });
        bump(counts.byStatus, String(status));
        if (status >= 500 || status === 0) counts.gateway5xx.push(`malformed raw → ${status}`);
        return;
      }
    }
  }

  // Steady pacing: each worker aims at RPS / CONCURRENCY requests per second.
  const interval = (CONCURRENCY / Math.max(RPS, 0.1)) * 1000;
  const deadline = started + DURATION_MS;
  const worker = async () => {
    while (Date.now() < deadline && !crashed) {
      const t0 = Date.now();
      try {
        await act();
      } catch (err) {
        counts.unexpectedClientErrors.push(`request failed: ${(err as Error).message}`);
      }
      const wait = interval - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  };

  // Every so often the upstream refuses connections for a second.
  const refuser = (async () => {
    while (Date.now() < deadline - 5000 && !crashed) {
      await sleep(20_000 + random() * 20_000);
      if (Date.now() >= deadline - 5000) break;
      counts.refuseWindows++;
      bump(counts.faults, 'refuse (1 s window)');
      const w: { from: number; to: number | null } = { from: Date.now(), to: null };
      refuseWindows.push(w);
      await up.refuseConnections();
      await sleep(1000);
      await up.acceptConnections();
      w.to = Date.now();
    }
  })();

  // Samples: memory, descriptors, and the ledger invariants checked in one read transaction.
  const check = await db.openReader();
  // The checker reads in one transaction of its own: one consistent snapshot per check.
  const checkLedger = async () => {
    counts.invariantChecks++;
    const v = await check.ledgerViolations();
    for (const p of v) if (!counts.invariantViolations.includes(p)) counts.invariantViolations.push(p);
  };
  const sampler = (async () => {
    while (Date.now() < deadline && !crashed) {
      await sleep(Math.min(15_000, Math.max(1000, DURATION_MS / 20)));
      if (crashed) break;
      try {
        samples.push(sampleProcess(pid));
      } catch {
        /* process gone */
      }
      await checkLedger();
      const elapsed = Math.round((Date.now() - started) / 1000);
      process.stderr.write(
        `soak: ${elapsed}s requests=${counts.requests} faults=${Object.values(counts.faults).reduce((a, b) => a + b, 0)} gateway5xx=${counts.gateway5xx.length} violations=${counts.invariantViolations.length} rss=${samples.at(-1)!.rssKb}kB fds=${samples.at(-1)!.fds}\n`,
      );
    }
  })();

  process.stderr.write(`soak: ${MINUTES} min, ${RPS} req/s target, ${CONCURRENCY} workers, fault rate ${FAULT_RATE}, seed ${SEED}\n`);
  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), refuser, sampler]);

  // Drain: stop faults, let the reconciler settle every open job (bounded).
  up.choose(null);
  await up.acceptConnections();
  // Videos deleted while unfinished settle only after three spaced upstream 404s (minutes): they
  // are reported, not waited for.
  const open = async () => (await check.get<{ n: number }>("select count(*) as n from jobs where status in ('pending','queued','in_progress') and deleted_at is null"))!.n;
  const settleUntil = Date.now() + 90_000;
  while ((await open()) > 0 && Date.now() < settleUntil && !crashed) await sleep(500);
  const stillOpen = await open();
  const openDeleted = (await check.get<{ n: number }>("select count(*) as n from jobs where status in ('pending','queued','in_progress') and deleted_at is not null"))!.n;
  const end = crashed ? samples.at(-1)! : sampleProcess(pid);
  samples.push(end);
  await checkLedger();

  // Final accounting straight from the database (SQL both engines accept: no min()/least()).
  const jobs = await check.all<{ status: string; n: number; charged: number }>('select status, count(*) as n, sum(charged_micros) as charged from jobs group by status');
  const billed = 'coalesce(billed_seconds, 0) * rate_micros';
  const wrongCharges = (await check.get<{ n: number }>(
    `select count(*) as n from jobs where (status = 'completed' and charged_micros != case when held_micros < ${billed} then held_micros else ${billed} end) or (status != 'completed' and charged_micros != 0)`,
  ))!;
  const perRequest = new Map<string, number>();
  for (const r of up.creates()) {
    const rid = String(r.headers['x-client-request-id'] ?? '');
    if (rid) perRequest.set(rid, (perRequest.get(rid) ?? 0) + 1);
  }
  const duplicates = [...perRequest.values()].filter((n) => n > 1).length;
  const integrity = await check.integrity();
  await check.close();

  // Idle: once every keep-alive connection has timed out, the descriptors should be back near
  // where they started (a leak would keep them open).
  let idle = crashed ? end : sampleProcess(pid);
  const idleUntil = Date.now() + 30_000;
  while (!crashed && idle.fds > first.fds + 5 && Date.now() < idleUntil) {
    await sleep(1000);
    idle = sampleProcess(pid);
  }

  stopping = true;
  const exit = crashed ? { code: null, signal: null, ms: 0 } : await reelay.stop('SIGTERM');
  const leaks = [
    ...Capture.findSecrets(reelay.output, [...tenants.map((k) => k.secret), UPSTREAM_KEY, ADMIN_TOKEN], 'reelay output'),
    ...Capture.findSecrets(await db.contents(), [...tenants.map((k) => k.secret), UPSTREAM_KEY, ADMIN_TOKEN], 'database'),
  ];
  const errorLines = reelay.logLines().filter((l) => typeof l.level === 'number' && (l.level as number) >= 50);
  await up.close();
  await db.remove();
  await pgServer?.stop();

  const totalFaults = Object.values(counts.faults).reduce((a, b) => a + b, 0);
  const elapsedS = (Date.now() - started) / 1000;
  const report = {
    command: `npm run soak -- --minutes ${MINUTES}${POSTGRES === null ? '' : ` --postgres${POSTGRES ? ' <server-url>' : ''}`}${RPS !== 40 ? ` --rps ${RPS}` : ''}${FAULT_RATE !== 0.1 ? ` --fault-rate ${FAULT_RATE}` : ''} --seed ${SEED}`,
    durationS: Math.round(elapsedS),
    requestsServed: counts.requests,
    requestsPerSecond: Math.round((counts.requests / (DURATION_MS / 1000)) * 10) / 10,
    byStatus: counts.byStatus,
    byAction: counts.byAction,
    faultsInjected: totalFaults,
    faultsByKind: counts.faults,
    upstreamCalls: up.requests.length,
    faultMapped5xx: counts.faultMapped5xx,
    upstreamPassed5xx: counts.upstreamPassed5xx,
    gatewayOriginated5xx: counts.gateway5xx.length,
    unexpected4xx: counts.unexpected4xx.length,
    downloads: { complete: counts.completeDownloads, cancelledByClient: counts.cancelledDownloads, cutByInjectedFault: counts.faultedDownloads },
    unexpectedClientErrors: counts.unexpectedClientErrors.length,
    ledgerInvariantChecks: counts.invariantChecks,
    ledgerInvariantViolations: counts.invariantViolations.length,
    wrongCharges: wrongCharges.n,
    createsSentTwice: duplicates,
    jobs: Object.fromEntries(jobs.map((j) => [j.status, j.n])),
    jobsStillOpenAfterDrain: stillOpen,
    deletedJobsAwaitingExpiry: openDeleted,
    databaseIntegrity: integrity,
    secretsFound: leaks.length,
    errorLogLines: errorLines.length,
    rss: { startMb: Math.round(first.rssKb / 102.4) / 10, endMb: Math.round(end.rssKb / 102.4) / 10, maxMb: Math.round(Math.max(...samples.map((s) => s.rssKb)) / 102.4) / 10 },
    openFds: { start: first.fds, end: end.fds, max: Math.max(...samples.map((s) => s.fds)), afterIdle: idle.fds },
    rssAfterIdleMb: Math.round(idle.rssKb / 102.4) / 10,
    sigterm: crashed ? crashed : { exitCode: exit.code, ms: exit.ms },
  };

  const failures: string[] = [];
  if (counts.gateway5xx.length > 0) failures.push(`gateway-originated 5xx: ${counts.gateway5xx.length}`);
  if (counts.invariantViolations.length > 0) failures.push(`ledger invariant violations: ${counts.invariantViolations.length}`);
  if (wrongCharges.n > 0) failures.push(`jobs charged wrongly: ${wrongCharges.n}`);
  if (duplicates > 0) failures.push(`creates sent twice: ${duplicates}`);
  if (crashed) failures.push(crashed);
  if (!crashed && exit.code !== 0) failures.push(`SIGTERM exit code ${exit.code}`);
  if (integrity !== 'ok') failures.push(`database integrity: ${integrity}`);
  if (leaks.length > 0) failures.push(`secrets found: ${leaks.length}`);
  if (!crashed && idle.fds > first.fds + 20) failures.push(`open descriptors did not come back after idling: ${first.fds} → ${idle.fds}`);

  const line = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(34)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
  process.stdout.write('\n=== reelay soak report ===\n');
  line('command', report.command);
  line('database', db.engine === 'sqlite' ? 'SQLite file' : `PostgreSQL${pgServer ? ' (embedded server)' : ''}`);
  line('duration (s)', report.durationS);
  line('requests served', `${report.requestsServed} (${report.requestsPerSecond}/s)`);
  line('responses by status', report.byStatus);
  line('requests by action', report.byAction);
  line('faults injected', report.faultsInjected);
  line('faults by kind', report.faultsByKind);
  line('upstream calls', report.upstreamCalls);
  line('5xx mapped from injected faults', report.faultMapped5xx);
  line('5xx passed through from upstream', report.upstreamPassed5xx);
  line('gateway-originated 5xx (target 0)', report.gatewayOriginated5xx);
  line('unexpected 4xx', report.unexpected4xx);
  line('downloads', report.downloads);
  line('unexpected client-side errors', report.unexpectedClientErrors);
  line('ledger invariant checks', report.ledgerInvariantChecks);
  line('ledger violations (target 0)', report.ledgerInvariantViolations);
  line('jobs charged wrongly (target 0)', report.wrongCharges);
  line('creates sent twice (target 0)', report.createsSentTwice);
  line('jobs by status', report.jobs);
  line('jobs still open after drain', report.jobsStillOpenAfterDrain);
  line('deleted unfinished, awaiting expiry', report.deletedJobsAwaitingExpiry);
  line('database integrity', report.databaseIntegrity);
  line('secrets in logs/db (target 0)', report.secretsFound);
  line('error log lines', report.errorLogLines);
  line('RSS (MB) start/end/max', `${report.rss.startMb} / ${report.rss.endMb} / ${report.rss.maxMb}`);
  line('open fds start/end/max', `${report.openFds.start} / ${report.openFds.end} / ${report.openFds.max}`);
  line('open fds / RSS (MB) after idle', `${report.openFds.afterIdle} / ${report.rssAfterIdleMb}`);
  line('SIGTERM', report.sigterm);
  for (const g of counts.gateway5xx.slice(0, 10)) process.stdout.write(`  gateway 5xx: ${g}\n`);
  for (const g of counts.invariantViolations.slice(0, 10)) process.stdout.write(`  violation: ${g}\n`);
  for (const g of counts.unexpected4xx.slice(0, 10)) process.stdout.write(`  unexpected 4xx: ${g}\n`);
  for (const g of counts.unexpectedClientErrors.slice(0, 10)) process.stdout.write(`  client error: ${g}\n`);
  for (const g of errorLines.slice(0, 5)) process.stdout.write(`  error log: ${JSON.stringify(g).slice(0, 300)}\n`);
  for (const g of leaks.slice(0, 5)) process.stdout.write(`  secret: ${g}\n`);
  if (crashed) process.stdout.write(`  reelay's last output:\n${reelay.output.join('').split('\n').slice(-40).join('\n')}\n`);
  if (JSON_REPORT) process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stdout.write(failures.length === 0 ? 'RESULT: all targets met\n' : `RESULT: FAILED — ${failures.join('; ')}\n`);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
