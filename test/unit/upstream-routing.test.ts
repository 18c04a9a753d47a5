import { describe, expect, it } from 'vitest';
import { routeCreate, weightedOrder, upstreamState } from '../../src/relay/routing.js';
import { nextHealth, emptyHealth, FIRST_COOLDOWN_MS, MAX_COOLDOWN_MS } from '../../src/relay/health.js';
import { classifyAnswer, classifyNoAnswer } from '../../src/relay/failover.js';
import { UpstreamFailure } from '../../src/relay/upstream.js';
import { parseUpstreamsFile, type UpstreamSpec } from '../../src/relay/upstreams-file.js';
import type { UpstreamHealthRow } from '../../src/store/rows.js';
import { percentile } from '../../src/admin/upstreams-routes.js';

/** A seeded PRNG (mulberry32), so the statistical checks are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENV = { KEY_A: 'sk-a', KEY_B: 'sk-b', KEY_C: 'sk-c' };
const specs = (list: Record<string, unknown>[]): UpstreamSpec[] =>
  parseUpstreamsFile({ upstreams: list.map((u, i) => ({ base_url: `http://p${i}.example/v1`, api_key_env: 'KEY_A', ...u })) }, ENV);

const NOW = 1_000_000;
const route = (ups: UpstreamSpec[], o: { model?: string; health?: UpstreamHealthRow[]; inflight?: [string, number][]; random?: () => number } = {}) =>
  routeCreate({
    upstreams: ups,
    model: o.model ?? 'sora-2',
    health: new Map((o.health ?? []).map((h) => [h.id, h])),
    inflight: new Map(o.inflight ?? []),
    now: NOW,
    random: o.random ?? seeded(1),
  }).map((c) => c.spec.id);

const health = (id: string, over: Partial<UpstreamHealthRow>): UpstreamHealthRow => ({ ...emptyHealth(id, NOW), ...over });

describe('routeCreate', () => {
  it('offers only the upstreams that serve the model', () => {
    const ups = specs([{ id: 'a', models: ['sora-2'] }, { id: 'b', models: ['sora-2-pro'] }, { id: 'c' }]);
    expect(route(ups, { model: 'sora-2-pro' }).sort()).toEqual(['b', 'c']);
    expect(route(ups, { model: 'sora-2' }).sort()).toEqual(['a', 'c']);
  });

  it('tries the lowest priority first, every time', () => {
    const ups = specs([{ id: 'late', priority: 2 }, { id: 'first', priority: 0, weight: 1 }, { id: 'mid', priority: 1, weight: 1000 }]);
    const random = seeded(7);
    for (let i = 0; i < 200; i++) expect(route(ups, { random })).toEqual(['first', 'mid', 'late']);
  });

  it('within a priority, picks in proportion to weight (3:1 within statistical bounds)', () => {
    const ups = specs([{ id: 'heavy', weight: 3 }, { id: 'light', weight: 1 }, { id: 'backup', priority: 1, weight: 100 }]);
    const random = seeded(42);
    const N = 20_000;
    let heavyFirst = 0;
    for (let i = 0; i < N; i++) {
      const order = route(ups, { random });
      expect(order).toHaveLength(3);
      expect(order[2]).toBe('backup');
      if (order[0] === 'heavy') heavyFirst++;
    }
    // Expected 0.75; the standard deviation of the share is about 0.003 at N = 20,000: ±5σ.
    expect(heavyFirst / N).toBeGreaterThan(0.735);
    expect(heavyFirst / N).toBeLessThan(0.765);
  });

  it('weightedOrder keeps every element exactly once', () => {
    const ups = specs([{ id: 'a', weight: 5 }, { id: 'b', weight: 2 }, { id: 'c', weight: 1 }, { id: 'd', weight: 9 }]);
    const random = seeded(3);
    for (let i = 0; i < 100; i++) expect(weightedOrder(ups, random).map((s) => s.id).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('skips upstreams that are disabled in the file or by an admin, and takes an admin enable over the file', () => {
    const ups = specs([{ id: 'a', enabled: false }, { id: 'b' }, { id: 'c', enabled: false }]);
    expect(route(ups)).toEqual(['b']);
    expect(route(ups, { health: [health('b', { manualEnabled: false }), health('c', { manualEnabled: true })] })).toEqual(['c']);
  });

  it('skips an upstream cooling down, and one whose trial another instance is running; offers a trial once the cooldown is over', () => {
    const ups = specs([{ id: 'a' }, { id: 'b', priority: 1 }]);
    expect(route(ups, { health: [health('a', { consecutiveFailures: 5, cooldownUntil: NOW + 1 })] })).toEqual(['b']);
    expect(route(ups, { health: [health('a', { consecutiveFailures: 5, cooldownUntil: NOW - 1, trialUntil: NOW + 1000 })] })).toEqual(['b']);
    const after = routeCreate({
      upstreams: ups, model: 'sora-2', health: new Map([['a', health('a', { consecutiveFailures: 5, cooldownUntil: NOW })]]), inflight: new Map(), now: NOW, random: seeded(1),
    });
    expect(after.map((c) => [c.spec.id, c.trial])).toEqual([['a', true], ['b', false]]);
    // A 429's retry-after cools it down without five failures.
    expect(route(ups, { health: [health('a', { consecutiveFailures: 1, cooldownUntil: NOW + 7000 })] })).toEqual(['b']);
  });

  it('applies no cooldown when health is off (the implicit default upstream), but still a manual disable', () => {
    const ups = specs([{ id: 'a' }]);
    const run = (h: UpstreamHealthRow) =>
      routeCreate({ upstreams: ups, model: 'sora-2', health: new Map([['a', h]]), inflight: new Map(), now: NOW, random: seeded(1), applyHealth: false });
    expect(run(health('a', { consecutiveFailures: 9, cooldownUntil: NOW + 10_000 })).map((c) => [c.spec.id, c.trial])).toEqual([['a', false]]);
    expect(run(health('a', { manualEnabled: false }))).toEqual([]);
  });

  it('skips an upstream at max_inflight_jobs and spills over to the next', () => {
    const ups = specs([{ id: 'small', max_inflight_jobs: 2 }, { id: 'big', priority: 1 }]);
    expect(route(ups, { inflight: [['small', 1]] })).toEqual(['small', 'big']);
    expect(route(ups, { inflight: [['small', 2]] })).toEqual(['big']);
    expect(route(ups, { inflight: [['small', 2], ['big', 1_000_000]] })).toEqual(['big']);
  });

  it('upstreamState names disabled, cooling_down and ok', () => {
    const [a] = specs([{ id: 'a' }]);
    expect(upstreamState(a!, undefined, NOW)).toBe('ok');
    expect(upstreamState(a!, health('a', { manualEnabled: false }), NOW)).toBe('disabled');
    expect(upstreamState(a!, health('a', { cooldownUntil: NOW + 1 }), NOW)).toBe('cooling_down');
  });
});

describe('nextHealth', () => {
  const fail = (retryAfterMs: number | null = null) => ({ ok: false as const, error: 'upstream answered 503', retryAfterMs });
  const run = (steps: { at: number; r: Parameters<typeof nextHealth>[2] }[]) => {
    let row: UpstreamHealthRow | undefined;
    for (const s of steps) row = nextHealth(row, 'a', s.r, s.at);
    return row!;
  };

  it('cools down for 30 s after the fifth failed create in a row, not before', () => {
    const four = run([1, 2, 3, 4].map((at) => ({ at, r: fail() })));
    expect(four).toMatchObject({ consecutiveFailures: 4, cooldownUntil: null });
    const five = nextHealth(four, 'a', fail(), 5);
    expect(five).toMatchObject({ consecutiveFailures: 5, cooldownUntil: 5 + FIRST_COOLDOWN_MS, cooldownMs: FIRST_COOLDOWN_MS, lastError: 'upstream answered 503' });
  });

  it('a success ends it all (failures, cooldown, trial) but keeps the manual state', () => {
    const row = { ...run([1, 2, 3, 4, 5].map((at) => ({ at, r: fail() }))), manualEnabled: false };
    expect(nextHealth(row, 'a', { ok: true }, 10)).toMatchObject({ consecutiveFailures: 0, cooldownUntil: null, cooldownMs: 0, trialUntil: null, manualEnabled: false });
  });

  it('each failed trial doubles the cooldown, up to 10 minutes', () => {
    let row = run([1, 2, 3, 4, 5].map((at) => ({ at, r: fail() })));
    const lengths = [row.cooldownMs];
    for (let i = 0; i < 8; i++) {
      const trialAt = row.cooldownUntil!; // the cooldown is over: a trial, which fails
      row = nextHealth({ ...row, trialUntil: trialAt + 1000 }, 'a', fail(), trialAt);
      expect(row.trialUntil).toBeNull();
      lengths.push(row.cooldownMs);
    }
    expect(lengths).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, MAX_COOLDOWN_MS, MAX_COOLDOWN_MS, MAX_COOLDOWN_MS, MAX_COOLDOWN_MS]);
  });

  it('failures of creates already in flight during a cooldown do not extend it', () => {
    const row = run([1, 2, 3, 4, 5].map((at) => ({ at, r: fail() })));
    const late = nextHealth(row, 'a', fail(), 6);
    expect(late.cooldownUntil).toBe(row.cooldownUntil);
    expect(late.cooldownMs).toBe(FIRST_COOLDOWN_MS);
  });

  it("a 429's retry-after cools down at once, for at least that long", () => {
    const row = nextHealth(undefined, 'a', fail(7000), 100);
    expect(row).toMatchObject({ consecutiveFailures: 1, cooldownUntil: 7100 });
    const fifth = run([...[1, 2, 3, 4].map((at) => ({ at, r: fail() })), { at: 5, r: fail(120_000) }]);
    expect(fifth.cooldownUntil).toBe(5 + 120_000);
  });
});

describe('failure classification for failover', () => {
  it('moves on only after 429, 503 or a connection that failed before sending', () => {
    expect(classifyAnswer(429)).toEqual({ result: 'rate_limited', failover: true, healthFailure: true });
    expect(classifyAnswer(503)).toEqual({ result: 'unavailable', failover: true, healthFailure: true });
    for (const s of [500, 502, 504, 599]) expect(classifyAnswer(s)).toEqual({ result: 'error', failover: false, healthFailure: true });
    for (const s of [400, 401, 404, 409, 418]) expect(classifyAnswer(s)).toEqual({ result: 'refused', failover: false, healthFailure: false });
    expect(classifyAnswer(200).failover).toBe(false);
    expect(classifyNoAnswer(new UpstreamFailure('unreachable', false))).toEqual({ result: 'unreachable', failover: true, healthFailure: true });
  });

  it('never moves on after a timeout or a connection lost after sending (unknown outcome)', () => {
    for (const kind of ['timeout', 'reset', 'bad_response', 'aborted'] as const) {
      expect(classifyNoAnswer(new UpstreamFailure(kind, true))).toEqual({ result: 'unknown', failover: false, healthFailure: false });
    }
    // Even "unreachable" is not safe when the bytes may have left.
    expect(classifyNoAnswer(new UpstreamFailure('unreachable', true)).failover).toBe(false);
  });
});

describe('time-to-complete percentiles', () => {
  it('nearest rank, rounded to 0.1 s; null without data', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 s
    expect(percentile(v, 0.5)).toBe(50);
    expect(percentile(v, 0.95)).toBe(95);
    expect(percentile([12.345], 0.95)).toBe(12.3);
    expect(percentile([3, 1, 2], 0.5)).toBe(2);
    expect(percentile([], 0.5)).toBeNull();
  });
});

describe('UPSTREAMS_FILE validation', () => {
  const parse = (json: unknown, env: Record<string, string> = ENV) => () => parseUpstreamsFile(json, env);
  const one = (u: Record<string, unknown>) => ({ upstreams: [{ id: 'a', base_url: 'https://p.example/v1', api_key_env: 'KEY_A', ...u }] });

  it('reads the example of the contract with its defaults', () => {
    const [a, b] = parseUpstreamsFile(
      {
        upstreams: [
          { id: 'acct-a', base_url: 'https://provider-a.example/v1', api_key_env: 'KEY_A', models: ['sora-2', 'sora-2-pro'], priority: 0, weight: 3, max_inflight_jobs: 40 },
          { id: 'acct-b', base_url: 'https://provider-b.example/v1/', api_key_env: 'KEY_B', priority: 1 },
        ],
      },
      ENV,
    );
    expect(a).toMatchObject({ id: 'acct-a', models: ['sora-2', 'sora-2-pro'], priority: 0, weight: 3, maxInflightJobs: 40, enabled: true, apiKey: 'sk-a' });
    expect(b).toMatchObject({ id: 'acct-b', baseUrl: 'https://provider-b.example/v1', models: null, priority: 1, weight: 1, maxInflightJobs: null, enabled: true, apiKey: 'sk-b' });
  });

  it('never serialises the credential', () => {
    const [a] = parseUpstreamsFile(one({}), ENV);
    expect(JSON.stringify(a)).not.toContain('sk-a');
    expect(Object.keys(a!)).not.toContain('apiKey');
  });

  it('names the missing environment variable', () => {
    expect(parse(one({ api_key_env: 'NOT_SET_ANYWHERE' }))).toThrow(/upstreams\[0\] \(a\)\.api_key_env: the environment variable NOT_SET_ANYWHERE is not set/);
  });

  it.each([
    [{ id: 'Bad Id' }, /upstreams\[0\]\.id must be/],
    [{ base_url: 'ftp://x/v1' }, /\(a\)\.base_url must be an http\(s\) URL ending in \/v1/],
    [{ base_url: 'https://x.example/v2' }, /\.base_url/],
    [{ api_key_env: 'sk-literal-key!' }, /\.api_key_env must name an environment variable/],
    [{ models: [] }, /\.models must be a non-empty array/],
    [{ priority: -1 }, /\.priority must be a whole number/],
    [{ weight: 0 }, /\.weight must be a whole number/],
    [{ max_inflight_jobs: 1.5 }, /\.max_inflight_jobs must be a whole number/],
    [{ enabled: 'yes' }, /\.enabled must be true or false/],
    [{ api_key: 'sk-inline' }, /\.api_key is not a known field/],
  ])('refuses %j naming the field', (field, message) => {
    expect(parse(one(field))).toThrow(message);
  });

  it('refuses a duplicate id, an empty list and a file without upstreams', () => {
    const a = { id: 'a', base_url: 'https://p.example/v1', api_key_env: 'KEY_A' };
    expect(parse({ upstreams: [a, a] })).toThrow(/upstreams\[1\] \(a\)\.id is used twice/);
    expect(parse({ upstreams: [] })).toThrow(/at least one upstream/);
    expect(parse([])).toThrow(/"upstreams" array/);
  });
});
