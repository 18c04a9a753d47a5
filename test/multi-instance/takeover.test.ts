import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgDatabase, type TestPgDatabase } from '../helpers/pg.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';
import {
  RATE_MICROS,
  ReelayProcess,
  createVideo,
  freePort,
  killAll,
  makeKey,
  openTestStore,
  query,
  sleep,
  startFakeUpstream,
  waitFor,
} from './cluster.js';

/**
 * A create in flight on a live instance is its own business: an instance that starts meanwhile
 * (and reconciles every 100 ms, with a 3 s instance timeout) never releases it, and it is billed
 * as usual. Also when the instance is a restart under the same INSTANCE_ID after a clean stop.
 */
const ENV = { INSTANCE_TIMEOUT_MS: '3000', RECONCILER_INTERVAL_MS: '100', RECONCILER_MIN_POLL_MS: '200' };
/** Well beyond the instance timeout, so a wrong takeover has every chance to happen. */
const CREATE_MS = 7000;

let pgdb: TestPgDatabase;
let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
let t: ReturnType<typeof openTestStore>;
const procs: ReelayProcess[] = [];

async function instance(id: string): Promise<ReelayProcess> {
  const p = new ReelayProcess(await freePort(), pgdb.url, upstream.url, { LOG_LEVEL: 'warn', INSTANCE_ID: id, ...ENV });
  procs.push(p);
  return p;
}

beforeAll(async () => {
  pgdb = await freshPgDatabase();
  upstream = await startFakeUpstream();
  t = openTestStore(pgdb.url);
}, 60_000);

afterAll(async () => {
  await killAll(procs);
  await t?.database.close();
  await upstream?.close();
  await pgdb?.drop();
});

/** Sends a slow create to `on`, starts `starting` while it is in flight; checks the create is billed and never released. */
async function slowCreateWhileStarting(on: ReelayProcess, starting: ReelayProcess | null, prompt: string, peers: ReelayProcess[]) {
  const key = await makeKey(t.store, { name: prompt }, 10_000_000);
  upstream.state.createDelayMs = CREATE_MS;
  const started = Date.now();
  const pending = createVideo(on.base, key.secret, { model: 'sora-2', prompt, seconds: '8' });
  try {
    if (starting) {
      await sleep(200);
      await starting.start();
    }
    // The create is pending in the database, its instance alive, while the peers reconcile.
    expect(await waitFor(async () => (await query(t.database, "select 1 from jobs where key_id = $1 and status = 'pending'", [key.id])).length === 1, 5000)).toBe(true);
    const res = await pending;
    expect(Date.now() - started).toBeGreaterThanOrEqual(CREATE_MS - 100);
    expect(res.status).toBe(200);
    const videoId = res.body.id as string;
    expect(upstream.creates.filter((c) => c.prompt === prompt)).toHaveLength(1);

    // The upstream finishes the job: it is captured at its billed seconds, never released.
    upstream.jobs.get(videoId)!.status = 'completed';
    expect(
      await waitFor(async () => (await query(t.database, "select 1 from jobs where video_id = $1 and status = 'completed'", [videoId])).length === 1, 15_000),
    ).toBe(true);
    const [job] = await query<{ id: string; charged_micros: string; billed_seconds: number }>(
      t.database,
      'select id, charged_micros, billed_seconds from jobs where video_id = $1',
      [videoId],
    );
    expect(job!.billed_seconds).toBe(8);
    expect(Number(job!.charged_micros)).toBe(8 * RATE_MICROS);
    const entries = await query<{ kind: string; amount_micros: string }>(t.database, 'select kind, amount_micros from ledger where job_id = $1 order by seq', [job!.id]);
    expect(entries.map((e) => [e.kind, Number(e.amount_micros)])).toEqual([
      ['hold', 8 * RATE_MICROS],
      ['capture', 8 * RATE_MICROS],
    ]);
    const [k] = await query<{ held_micros: string; balance_micros: string }>(t.database, 'select held_micros, balance_micros from api_keys where id = $1', [key.id]);
    expect(Number(k!.held_micros)).toBe(0);
    expect(Number(k!.balance_micros)).toBe(10_000_000 - 8 * RATE_MICROS);
    for (const p of peers) expect(p.logLines().filter((l) => l.incident === 'create_outcome_unknown')).toEqual([]);
    expect(await ledgerViolations(t.store)).toEqual([]);
  } finally {
    upstream.state.createDelayMs = 0;
  }
}

describe('a create in flight on a live instance', () => {
  it('is never released by an instance that starts meanwhile, and is captured when the upstream completes it', async () => {
    const a = await instance('takeover-a');
    await a.start();
    const c = await instance('takeover-c');
    await slowCreateWhileStarting(a, c, 'in flight while c starts', [a, c]);
  }, 60_000);

  it('is never released by its peers when its instance was restarted under the same INSTANCE_ID after a clean stop', async () => {
    const [a, c] = procs;
    // A stops cleanly (its row is marked stopped) and comes back under the same name.
    expect((await a!.stop('SIGTERM')).code).toBe(0);
    await a!.start();
    await slowCreateWhileStarting(a!, null, 'in flight after a restart', [a!, c!]);
  }, 60_000);

  it('is released, and its Idempotency-Key freed, when its process crashed and came back under the same INSTANCE_ID within the instance timeout', async () => {
    // Alone on the database, with a long instance timeout: the restarted process is the only one
    // that could take the crashed one's work over, and it looks alive throughout.
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    const b = new ReelayProcess(await freePort(), pgdb.url, upstream.url, { LOG_LEVEL: 'warn', INSTANCE_ID: 'takeover-b', INSTANCE_TIMEOUT_MS: '30000', RECONCILER_INTERVAL_MS: '100' });
    procs.push(b);
    await b.start();
    const key = await makeKey(t.store, { name: 'crash restart' }, 10_000_000);
    const body = { model: 'sora-2', prompt: 'in flight when b crashed', seconds: '4' };
    upstream.state.createDelayMs = 60_000;
    try {
      const lost = createVideo(b.base, key.secret, body, 'crash-restart-1').catch(() => null);
      expect(await waitFor(async () => (await query(t.database, "select 1 from jobs where key_id = $1 and status = 'pending'", [key.id])).length === 1, 5000)).toBe(true);
      // Killed once the create has reached the upstream (on a loaded machine the hold is written
      // well before the request arrives there).
      expect(await waitFor(async () => upstream.creates.some((c) => c.prompt === body.prompt), 10_000)).toBe(true);
      await b.stop('SIGKILL');
      expect(await lost).toBeNull();
      upstream.state.createDelayMs = 0;
      await b.start();
      // The crashed process's create is released as an unknown outcome (well within 90 s of the crash) …
      const released = await waitFor(async () => (await query(t.database, "select 1 from jobs where key_id = $1 and status = 'pending'", [key.id])).length === 0, 20_000);
      expect(released).toBe(true);
      const [k] = await query<{ held_micros: string; balance_micros: string }>(t.database, 'select held_micros, balance_micros from api_keys where id = $1', [key.id]);
      expect([Number(k!.held_micros), Number(k!.balance_micros)]).toEqual([0, 10_000_000]);
      // … and a retry with its Idempotency-Key is answered (not 409 for a day) as the unknown outcome
      // it is, every time, without a second upstream job.
      const retry = await createVideo(b.base, key.secret, body, 'crash-restart-1');
      expect(retry.status).toBe(502);
      expect(retry.headers.get('x-should-retry')).toBe('false');
      const again = await createVideo(b.base, key.secret, body, 'crash-restart-1');
      expect([again.status, again.headers.get('idempotent-replayed'), again.body]).toEqual([502, 'true', retry.body]);
      expect(upstream.creates.filter((c) => c.prompt === body.prompt)).toHaveLength(1);
      expect(await ledgerViolations(t.store)).toEqual([]);
    } finally {
      upstream.state.createDelayMs = 0;
    }
  }, 60_000);
});
