import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { ENGINE_NAMES, newTestDatabase, type EngineName, type TestDatabase } from '../helpers/engine-databases.js';
import { createKey } from '../../src/keys/service.js';
import { Capture, sleep, waitFor } from './support.js';
import { freePort, ReelayProcess } from './child.js';

/**
 * Crashes and restarts of a real reelay process. SIGKILL lands while creates are in flight (the
 * upstream answers creates slowly), while downloads stream, and while the reconciler is in the
 * middle of a batch of polls; after the restarts every job settles exactly once. SIGTERM drains
 * in-flight requests, stops the reconciler even when its polls hang, and exits 0. Each on a SQLite
 * file and on a PostgreSQL database of its own.
 */
const databases: TestDatabase[] = [];

async function setupDatabase(engine: EngineName, keys: number): Promise<{ db: TestDatabase; secrets: string[] }> {
  const db = await newTestDatabase(engine, 'reelay-crash-');
  databases.push(db);
  const setup = await db.openStore();
  const secrets: string[] = [];
  try {
    for (let i = 0; i < keys; i++) {
      const { key, secret } = await createKey(setup.store, { name: `crash ${i}` }, Date.now());
      await setup.store.appendCredit(key.id, 500_000_000, 'crash test', { actor: 'test', requestId: null, now: Date.now() });
      secrets.push(secret);
    }
  } finally {
    await setup.close();
  }
  return { db, secrets };
}

afterAll(async () => {
  for (const db of databases) await db.remove();
});

/** Upstream exchanges of a kind that were open at time `at` (request received, response not closed). */
function inFlightAt(up: FaultUpstream, at: number, match: (r: FaultUpstream['requests'][number]) => boolean): number {
  return up.requests.filter((r) => match(r) && r.receivedAt <= at && (r.closedAt === null || r.closedAt >= at) && !(r.finished && r.closedAt !== null && r.closedAt < at)).length;
}
const isCreate = (r: FaultUpstream['requests'][number]) => r.method === 'POST' && r.path === '/v1/videos';
/** The reconciler's own polls (client polls carry the client's user-agent, which is forwarded). */
const isPoll = (r: FaultUpstream['requests'][number]) => r.method === 'GET' && /^\/v1\/videos\/video_[^/]+$/.test(r.path) && r.headers['user-agent'] === undefined;
const isDownload = (r: FaultUpstream['requests'][number]) => r.method === 'GET' && r.path.endsWith('/content');

describe.each(ENGINE_NAMES)('SIGKILL at random points of job lifecycles (%s)', (engine) => {
  let up: FaultUpstream;
  let reelay: ReelayProcess;

  beforeAll(async () => {
    up = await startFaultUpstream({ completeAfterMs: 700, contentBytes: 1024 * 1024, chunkBytes: 16 * 1024, chunkDelayMs: 3 });
    // Creates answer after 50–350 ms; polls (the reconciler's and clients') after 40–160 ms.
    up.choose((r) => {
      if (isCreate(r)) return { kind: 'delay', ms: 50 + Math.floor(Math.random() * 300) };
      if (r.method === 'GET' && !r.path.endsWith('/content')) return { kind: 'delay', ms: 40 + Math.floor(Math.random() * 120) };
      return undefined;
    });
  });
  afterAll(async () => {
    await reelay?.stop('SIGKILL');
    await up.close();
  });

  it('settles every job exactly once across 6 kills that hit creates, downloads and reconciler batches', async () => {
    const { db, secrets } = await setupDatabase(engine, 4);
    reelay = new ReelayProcess(await freePort(), db.url, up.url, { RECONCILER_INTERVAL_MS: '50', RECONCILER_MIN_POLL_MS: '50', INSTANCE_TIMEOUT_MS: '1500' });
    await reelay.start();

    const LIFECYCLES = 90;
    const videos: { id: string; secret: string }[] = [];
    const downloads = { complete: 0, interrupted: 0, wrongSize: 0 };
    let stop = false;

    const lifecycle = async (i: number) => {
      const secret = secrets[i % secrets.length]!;
      const body = JSON.stringify({ prompt: i % 6 === 0 ? `life ${i} [fail]` : `life ${i}`, seconds: ['4', '8', '12'][i % 3] });
      let id: string | null = null;
      // Retry for a while, not a number of times: restarts are slow on a loaded machine, and a
      // client that gives up early leaves fewer jobs for the checks below.
      const giveUpAt = Date.now() + 60_000;
      for (let attempt = 0; !id && !stop && Date.now() < giveUpAt; attempt++) {
        try {
          const res = await fetch(`${reelay.base}/v1/videos`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'idempotency-key': `life-${i}`, 'x-client-request-id': `life-${i}-${attempt}` },
            body,
          });
          if (res.status === 200) id = ((await res.json()) as { id: string }).id;
          else if (res.status >= 500 || res.status === 409) await sleep(80);
          else throw new Error(`create ${i}: ${res.status} ${await res.text()}`);
        } catch (err) {
          if ((err as Error).message.startsWith('create')) throw err;
          await sleep(80);
        }
      }
      if (!id) return;
      videos.push({ id, secret });
      if (i % 2 === 0) return; // this client never polls again: the reconciler must settle it
      for (let p = 0; p < 100 && !stop; p++) {
        try {
          const res = await fetch(`${reelay.base}/v1/videos/${id}`, { headers: { authorization: `Bearer ${secret}` } });
          if (res.ok && ['completed', 'failed'].includes(((await res.json()) as { status: string }).status)) return;
        } catch {
          /* down: try again */
        }
        await sleep(100);
      }
    };

    const downloader = async () => {
      while (!stop) {
        const v = videos[Math.floor(Math.random() * videos.length)];
        if (!v || !reelay.alive) {
          await sleep(50);
          continue;
        }
        try {
          const res = await fetch(`${reelay.base}/v1/videos/${v.id}/content`, { headers: { authorization: `Bearer ${v.secret}` } });
          if (res.status !== 200) {
            await res.arrayBuffer().catch(() => {});
            await sleep(30);
            continue;
          }
          const bytes = (await res.arrayBuffer()).byteLength;
          if (bytes === 1024 * 1024) downloads.complete++;
          else downloads.wrongSize++;
        } catch {
          downloads.interrupted++;
          await sleep(50);
        }
      }
    };

    const kills: number[] = [];
    const killer = (async () => {
      for (let k = 0; k < 6; k++) {
        await sleep(400 + Math.random() * 500);
        // Aim: wait (bounded) until a create, a download and a poll are all in flight upstream.
        await waitFor(() => {
          const now = Date.now();
          return inFlightAt(up, now, isCreate) > 0 && inFlightAt(up, now, isDownload) > 0 && inFlightAt(up, now, isPoll) > 0;
        }, 5000, 5);
        kills.push(Date.now());
        await reelay.stop('SIGKILL');
        await reelay.start();
      }
    })();
    const clients = Promise.all(Array.from({ length: LIFECYCLES }, (_, i) => sleep(i * 40).then(() => lifecycle(i))));
    const downloaders = [downloader(), downloader()];
    await killer;
    await clients;
    stop = true;
    await Promise.all(downloaders);

    const check = await db.openReader();
    try {
      const open = async () => (await check.get<{ n: number }>("select count(*) as n from jobs where status in ('pending','queued','in_progress')"))!.n;
      expect(await waitFor(async () => (await open()) === 0, 20_000, 100)).toBe(true);
      await reelay.stop('SIGKILL');

      // What the kills interrupted.
      const hit = {
        creates: kills.reduce((n, at) => n + inFlightAt(up, at, isCreate), 0),
        downloads: kills.reduce((n, at) => n + inFlightAt(up, at, isDownload), 0),
        polls: kills.reduce((n, at) => n + inFlightAt(up, at, isPoll), 0),
      };
      console.info(`crash: kills=${kills.length} creates-in-flight=${hit.creates} downloads-in-flight=${hit.downloads} polls-in-flight=${hit.polls} downloads=${JSON.stringify(downloads)}`);
      expect(hit.creates).toBeGreaterThan(0);
      expect(hit.downloads).toBeGreaterThan(0);
      expect(hit.polls).toBeGreaterThan(0);
      expect(downloads.complete).toBeGreaterThan(0);
      expect(downloads.wrongSize).toBe(0); // a cut download is an error, never a short success

      // (Aliases quoted: PostgreSQL folds unquoted ones to lower case.)
      const jobs = await check.all<{
        videoId: string | null;
        status: string;
        billed: number | null;
        charged: number;
      }>('select video_id as "videoId", status, billed_seconds as billed, charged_micros as charged, request_id as rid from jobs');
      for (const j of jobs) {
        if (j.status === 'completed') {
          expect(j.charged).toBe(j.billed! * 100_000);
          expect(up.jobs.get(j.videoId!)?.status).toBe('completed');
        } else {
          expect(j.charged).toBe(0);
        }
      }
      // Enough lifecycles got through for the checks above to mean something. (A create in flight
      // at a kill is an unknown outcome for good: its retries with the same Idempotency-Key get
      // that answer, so those lifecycles never complete.)
      expect(jobs.filter((j) => j.status === 'completed').length).toBeGreaterThan(LIFECYCLES / 4);
      expect(jobs.filter((j) => j.status === 'failed').length).toBeGreaterThan(0);
      // No create was ever sent twice for one client request.
      const perRequest = new Map<string, number>();
      for (const r of up.creates()) {
        const rid = String(r.headers['x-client-request-id']);
        perRequest.set(rid, (perRequest.get(rid) ?? 0) + 1);
      }
      expect([...perRequest.values()].filter((n) => n > 1)).toEqual([]);
      // Every upstream video is recorded on at most one job.
      const videoIds = jobs.map((j) => j.videoId).filter((v) => v !== null);
      expect(new Set(videoIds).size).toBe(videoIds.length);
      expect(await check.all('select job_id, count(*) as n from ledger where terminal group by job_id having count(*) > 1')).toEqual([]);
      expect((await check.get<{ h: number }>('select sum(held_micros) as h from api_keys'))!.h).toBe(0);
      expect(await check.ledgerViolations()).toEqual([]);
      expect(await check.integrity()).toBe('ok');
    } finally {
      await check.close();
    }
    const leaks = [
      ...Capture.findSecrets(reelay.output, [...secrets, 'sk-upstream-RELIABILITY-7f3a9c2e5b1d4a60', 'reliability-admin-token-5c1e9a0b7d3f'], 'child output'),
      ...Capture.findSecrets(await db.contents(), [...secrets, 'sk-upstream-RELIABILITY-7f3a9c2e5b1d4a60'], 'database'),
    ];
    expect(leaks).toEqual([]);
  }, 120_000);
});

describe.each(ENGINE_NAMES)('graceful shutdown on SIGTERM (%s)', (engine) => {
  it('drains in-flight requests, stops a reconciler stuck on hung polls, and exits 0', async () => {
    const up = await startFaultUpstream({ contentBytes: 2 * 1024 * 1024, chunkBytes: 16 * 1024, chunkDelayMs: 6 });
    const { db, secrets } = await setupDatabase(engine, 1);
    const secret = secrets[0]!;
    const reelay = new ReelayProcess(await freePort(), db.url, up.url, {
      RECONCILER_INTERVAL_MS: '50',
      RECONCILER_MIN_POLL_MS: '50',
      UPSTREAM_HEADERS_TIMEOUT_MS: '30000',
    });
    try {
      await reelay.start();
      const auth = { authorization: `Bearer ${secret}` };
      const create = (prompt: string) =>
        fetch(`${reelay.base}/v1/videos`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
      // Open jobs for the reconciler, whose polls will hang from now on.
      const open: string[] = [];
      for (let i = 0; i < 5; i++) open.push(((await (await create(`open ${i}`)).json()) as { id: string }).id);
      // (Not open[0]: its download below first looks the job up, which must answer.)
      up.script({ method: 'GET', path: new RegExp(`^/v1/videos/(${open.slice(1).join('|')})$`), behaviour: { kind: 'hang' } });
      expect(await waitFor(() => up.requests.some((r) => r.behaviour === 'hang'), 3000)).toBe(true);

      // In flight when SIGTERM arrives: a slow create, a streaming download, an idle keep-alive connection.
      up.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'delay', ms: 800 } });
      // Settled into values so that a failed assertion below leaves no unhandled rejection behind.
      const slowCreate = create('in flight at SIGTERM').catch((e: unknown) => e);
      const download = fetch(`${reelay.base}/v1/videos/${open[0]}/content`, { headers: auth })
        .then(async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength }))
        .catch((e: unknown) => e);
      const idle = connect(reelay.port, '127.0.0.1');
      idle.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      idle.on('error', () => {});
      idle.resume();
      const idleClosed = new Promise<void>((r) => idle.on('close', () => r()));
      // Both must have reached the upstream before SIGTERM, or the test would not be testing a drain
      // (a bare 2 s wait, unchecked, could let a loaded machine send SIGTERM first).
      expect(await waitFor(() => up.requests.some((r) => r.path.endsWith('/content')) && up.creates().length === 6, 10_000)).toBe(true);
      await sleep(100);
      const exit = reelay.stop('SIGTERM');
      // No new connections once draining. The listener closes right after this line is logged;
      // a loaded machine may still schedule the child late, so allow it a few seconds.
      expect(await reelay.waitForLog('shutting down: draining in-flight requests', 10_000)).toBe(true);
      expect(await waitFor(() => fetch(`${reelay.base}/healthz`).then(() => false, () => true), 5000)).toBe(true);
      const created = await slowCreate;
      if (!(created instanceof Response)) throw created;
      expect(created.status).toBe(200);
      const createdId = ((await created.json()) as { id: string }).id;
      expect(await download).toEqual({ status: 200, bytes: 2 * 1024 * 1024 });
      const lastResponseAt = Date.now();
      await idleClosed;
      const { code, ms } = await exit;
      expect(code).toBe(0);
      // Bounded although the reconciler's polls hang for 30 s, and not held up by keep-alive
      // connections that went idle (they are closed as soon as their response ends).
      // (Generous bounds for a loaded machine: the hung polls would hold it 30 s, and an idle
      // keep-alive connection 5 s.)
      expect(ms).toBeLessThan(10_000);
      expect(Date.now() - lastResponseAt).toBeLessThan(3000);

      const logs = reelay.logLines();
      expect(logs.some((l) => l.msg === 'shutting down: draining in-flight requests')).toBe(true);
      expect(logs.filter((l) => typeof l.level === 'number' && (l.level as number) >= 50)).toEqual([]);
      expect(reelay.output.join('')).not.toMatch(/reconciler pass failed|database connection is not open|Error:/);

      const check = await db.openReader();
      try {
        // The create that was in flight is recorded (not left pending), with its hold.
        expect(await check.get('select status from jobs where video_id = ?', [createdId])).toEqual({ status: 'queued' });
        expect(await check.get("select count(*) as n from jobs where status = 'pending'")).toEqual({ n: 0 });
        expect(await check.ledgerViolations()).toEqual([]);
        expect(await check.integrity()).toBe('ok');
      } finally {
        await check.close();
      }
      expect(Capture.findSecrets(reelay.output, [secret, 'sk-upstream-RELIABILITY-7f3a9c2e5b1d4a60'], 'child output')).toEqual([]);
    } finally {
      await reelay.stop('SIGKILL');
      await up.close();
    }
  }, 60_000);
});
