import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { ledgerViolations } from '../helpers/ledger-invariants.js';

/**
 * A billable POST is refused before its body is read when the key cannot possibly go on (no
 * available balance for even the cheapest job, or at its in-flight-jobs limit), and request bodies
 * are buffered only within the process's upload budget. The bodies here never end: an answer
 * proves the body was not waited for.
 */
let sim: SimulatorHandle;
let h: Harness;

beforeAll(async () => {
  // Jobs stay queued for the whole file: they count as in flight.
  sim = await startSimulator({ jobDurationMs: 600_000 });
  h = buildHarness({ upstreamUrl: sim.url, env: { MAX_MULTIPART_BYTES: String(2 * 1024 * 1024), MAX_BUFFERED_UPLOAD_BYTES: String(2 * 1024 * 1024) } });
});
afterAll(async () => {
  expect(await ledgerViolations(h.deps.store)).toEqual([]);
  h.close();
  await sim.close();
});

/** A request body that sends `first` and then never ends (until `end()`), and whether it was read. */
function endlessBody(first = '{"prompt":') {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(new TextEncoder().encode(first));
    },
    pull() {
      pulls++;
    },
  });
  return { stream, pulls: () => pulls, end: (rest = '') => (rest && controller.enqueue(new TextEncoder().encode(rest)), controller.close()) };
}

const post = (path: string, secret: string, body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}) =>
  h.call(path, { method: 'POST', key: secret, headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit);

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(JSON.parse(text).error.code).toBe(code);
}

describe('a billable POST from a key that cannot pay is refused before its body is read', () => {
  it('no available balance: 429 insufficient_quota with x-should-retry: false on all four billable routes, no upstream call', async () => {
    const key = await h.newKey('0.00');
    for (const path of ['/v1/videos', '/v1/videos/edits', '/v1/videos/extensions']) {
      const body = endlessBody();
      const res = await post(path, key.secret, body.stream);
      await expectError(res.clone(), 429, 'insufficient_quota');
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect((await res.json()).error.message).toMatch(/^Your available balance does not cover this job \(at least 0\.100000 USD\)/);
      expect(body.pulls()).toBe(0);
    }
    expect(h.database.sqlite.prepare('select count(*) as n from jobs where key_id = ?').get(key.id)).toEqual({ n: 0 });
  });

  it('a balance fully held by earlier jobs counts as none: the remix of its own video is refused before reading', async () => {
    const key = await h.newKey('0.40'); // exactly one 4 s sora-2 job
    const created = await h.createJson(key.secret, { prompt: 'p', model: 'sora-2', seconds: '4' });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const body = endlessBody();
    await expectError(await post(`/v1/videos/${id}/remix`, key.secret, body.stream), 429, 'insufficient_quota');
    expect(body.pulls()).toBe(0);
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 400_000, heldMicros: 400_000 });
  });

  it('at its in-flight-jobs limit: 429 rate_limit_exceeded with retry-after, before reading', async () => {
    const key = await h.newKey('10.00', { maxInflightJobs: 1 });
    expect((await h.createJson(key.secret, { prompt: 'p' })).status).toBe(200);
    const body = endlessBody();
    const res = await post('/v1/videos', key.secret, body.stream);
    await expectError(res.clone(), 429, 'rate_limit_exceeded');
    expect(res.headers.get('retry-after')).toBe('10');
    expect(body.pulls()).toBe(0);
  });

  it('a key that can pay for the cheapest job still has its body read, validated and held as before', async () => {
    const key = await h.newKey('0.10'); // the cheapest possible job (one second at 0.10), not a 4 s create
    await expectError(await h.createJson(key.secret, { prompt: 'p', model: 'sora-2', seconds: '4' }), 429, 'insufficient_quota');
    const body = endlessBody();
    const pending = post('/v1/videos', key.secret, body.stream);
    await new Promise((r) => setTimeout(r, 50));
    expect(body.pulls()).toBeGreaterThan(0); // its body is being read
    body.end('"p", "seconds": 5}');
    await expectError(await pending, 400, 'invalid_request');
  });

  it('a retry with a live Idempotency-Key is replayed, even when its own job now holds the whole balance', async () => {
    const key = await h.newKey('0.40');
    const send = () => h.createJson(key.secret, { prompt: 'p', model: 'sora-2', seconds: '4' }, { 'idempotency-key': 'idem-early-1' });
    const first = await send();
    expect(first.status).toBe(200);
    const again = await send();
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
  });
});

describe('the upload budget bounds the request bodies buffered at once', () => {
  it('a body that does not fit beside the ones being read is refused 503 server_busy with retry-after; it fits again once they are done', async () => {
    const key = await h.newKey('10.00');
    const budget = h.deps.uploadBudget;
    expect(budget.inUse).toBe(0);
    // Holds 1.5 MB of the 2 MiB budget while its (multipart) body is being read.
    const held = endlessBody('--x\r\n');
    const holding = post('/v1/videos', key.secret, held.stream, { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(1_500_000) });
    await new Promise((r) => setTimeout(r, 50));
    expect(budget.inUse).toBe(1_500_000);

    // Declared: refused before reading.
    const declared = endlessBody();
    const busy = await post('/v1/videos', key.secret, declared.stream, { 'content-length': String(1_048_576) });
    await expectError(busy.clone(), 503, 'server_busy');
    expect(busy.headers.get('retry-after')).toBe('2');

    // Chunked (no length): refused when the chunk that does not fit arrives.
    const chunks = Array.from({ length: 20 }, () => new Uint8Array(64 * 1024).fill(0x20));
    const chunked = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    await expectError(await post('/v1/videos', key.secret, chunked), 503, 'server_busy');
    expect(budget.inUse).toBe(1_500_000);

    // The first body ends (a malformed one: 400 after reading); its share comes back.
    held.end('garbage');
    await expectError(await holding, 400, 'invalid_request');
    expect(budget.inUse).toBe(0);
    const fits = await post('/v1/videos', key.secret, JSON.stringify({ prompt: 'p', size: 'nope' + ' '.repeat(1_000_000) }));
    await expectError(fits, 400, 'invalid_request');
    expect(budget.inUse).toBe(0);
  });
});
