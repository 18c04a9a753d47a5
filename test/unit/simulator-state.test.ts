import { describe, expect, it } from 'vitest';
import { REQUEST_LOG_LIMIT, Simulator, jobStatusAt } from '../../src/simulator/state.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const basic = { model: 'sora-2', prompt: 'a cat', seconds: '4', size: '720x1280' };

describe('Simulator job lifecycle (injected clock)', () => {
  it('moves queued -> in_progress with rising progress -> completed at jobDurationMs', () => {
    const c = clock();
    const sim = new Simulator({ jobDurationMs: 1000, queuedMs: 200, now: c.now });
    const job = sim.createJob(basic);
    const v0 = sim.view(job);
    expect(v0).toMatchObject({ status: 'queued', progress: 0, completed_at: null, expires_at: null, error: null });
    expect(v0.created_at).toBe(Math.floor(1_700_000_000_000 / 1000));

    c.advance(199);
    expect(sim.view(job).status).toBe('queued');
    c.advance(1); // 200 ms
    expect(sim.view(job)).toMatchObject({ status: 'in_progress', progress: 0 });
    c.advance(400); // 600 ms: halfway through in_progress
    expect(sim.view(job)).toMatchObject({ status: 'in_progress', progress: 50 });
    c.advance(399); // 999 ms
    const late = sim.view(job);
    expect(late.status).toBe('in_progress');
    expect(late.progress).toBe(99);

    c.advance(1); // 1000 ms
    const done = sim.view(job);
    expect(done).toMatchObject({ status: 'completed', progress: 100, error: null });
    expect(done.completed_at).toBe(Math.floor((1_700_000_000_000 + 1000) / 1000));
    expect(done.expires_at).toBe(done.completed_at! + 3600);
  });

  it('progress never decreases while the job runs', () => {
    const c = clock();
    const sim = new Simulator({ jobDurationMs: 3000, now: c.now });
    const job = sim.createJob(basic);
    let last = -1;
    for (let i = 0; i <= 3000; i += 37) {
      const p = sim.view(job).progress;
      expect(p).toBeGreaterThanOrEqual(last);
      last = p;
      c.advance(37);
    }
    expect(sim.view(job).progress).toBe(100);
  });

  it('defaults: 3000 ms duration, queued for 20% of it', () => {
    const c = clock();
    const sim = new Simulator({ now: c.now });
    const job = sim.createJob(basic);
    expect(job.durationMs).toBe(3000);
    expect(job.queuedMs).toBe(600);
    c.advance(599);
    expect(sim.view(job).status).toBe('queued');
    c.advance(1);
    expect(sim.view(job).status).toBe('in_progress');
    c.advance(2400);
    expect(sim.view(job).status).toBe('completed');
  });

  it('a zero duration completes immediately', () => {
    const sim = new Simulator({ jobDurationMs: 0, now: () => 5000 });
    expect(sim.view(sim.createJob(basic))).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('returns the OpenAI video object shape', () => {
    const sim = new Simulator({ now: () => 0 });
    const job = sim.createJob({ ...basic, remixedFromVideoId: 'video_src' });
    expect(job.id).toMatch(/^video_[0-9a-f]{48}$/);
    expect(sim.view(job)).toEqual({
      id: job.id,
      object: 'video',
      model: 'sora-2',
      status: 'queued',
      progress: 0,
      created_at: 0,
      completed_at: null,
      expires_at: null,
      size: '720x1280',
      seconds: '4',
      quality: 'standard',
      prompt: 'a cat',
      remixed_from_video_id: 'video_src',
      error: null,
    });
  });

  it('a prompt containing [fail] ends failed with generation_failed at the end of the run', () => {
    const c = clock();
    const sim = new Simulator({ jobDurationMs: 1000, now: c.now });
    const job = sim.createJob({ ...basic, prompt: 'please [FAIL] this' });
    c.advance(500);
    expect(sim.view(job).status).toBe('in_progress');
    c.advance(500);
    const v = sim.view(job);
    expect(v.status).toBe('failed');
    expect(v.error).toEqual({ code: 'generation_failed', message: 'Video generation failed.' });
    expect(v.completed_at).toBeNull();
    expect(v.progress).toBeLessThan(100);
  });
});

describe('Simulator test controls', () => {
  it('failJob fails a running job from now on, freezing its progress, with the given code', () => {
    const c = clock();
    const sim = new Simulator({ jobDurationMs: 1000, queuedMs: 0, now: c.now });
    const job = sim.createJob(basic);
    c.advance(300);
    expect(sim.failJob(job.id, 'gpu_on_fire')).toBe(true);
    const v = sim.view(job);
    expect(v).toMatchObject({ status: 'failed', progress: 30, error: { code: 'gpu_on_fire' } });
    expect(v.error!.message).toContain('gpu_on_fire');
    c.advance(5000);
    expect(sim.view(job)).toMatchObject({ status: 'failed', progress: 30 });
  });

  it('failJob defaults to generation_failed and refuses finished or unknown jobs', () => {
    const c = clock();
    const sim = new Simulator({ jobDurationMs: 100, now: c.now });
    const running = sim.createJob(basic);
    expect(sim.failJob(running.id)).toBe(true);
    expect(sim.view(running).error?.code).toBe('generation_failed');

    const done = sim.createJob(basic);
    c.advance(100);
    expect(sim.failJob(done.id)).toBe(false);
    expect(sim.view(done).status).toBe('completed');
    expect(sim.failJob('video_nope')).toBe(false);
  });

  it('failNextCreate queues failures in order and honours count', () => {
    const sim = new Simulator();
    sim.failNextCreate('rate_limit', 2);
    sim.failNextCreate('content_policy');
    expect(sim.pendingCreateFailures).toBe(3);
    expect(sim.takeCreateFailure()).toBe('rate_limit');
    expect(sim.takeCreateFailure()).toBe('rate_limit');
    expect(sim.takeCreateFailure()).toBe('content_policy');
    expect(sim.takeCreateFailure()).toBeUndefined();
  });

  it('forget removes the job; delete too', () => {
    const sim = new Simulator();
    const a = sim.createJob(basic);
    const b = sim.createJob(basic);
    expect(sim.forget(a.id)).toBe(true);
    expect(sim.get(a.id)).toBeUndefined();
    expect(sim.jobs.has(a.id)).toBe(false);
    expect(sim.forget(a.id)).toBe(false);
    expect(sim.delete(b.id)).toBe(true);
    expect(sim.jobs.size).toBe(0);
  });

  it('setLatencyMs validates and stores the delay', () => {
    const sim = new Simulator();
    sim.setLatencyMs(250);
    expect(sim.latencyMs).toBe(250);
    expect(() => sim.setLatencyMs(-1)).toThrow(RangeError);
  });

  it('the request log keeps the last 1000 entries while requestCount counts all', () => {
    const sim = new Simulator();
    for (let i = 0; i < REQUEST_LOG_LIMIT + 5; i++) {
      sim.recordRequest({ method: 'GET', path: `/v1/videos/${i}`, query: '', headers: {} });
    }
    expect(sim.requestCount).toBe(1005);
    expect(sim.requests).toHaveLength(1000);
    expect(sim.requests[0]!.path).toBe('/v1/videos/5');
    expect(sim.requests.at(-1)!.path).toBe('/v1/videos/1004');
  });

  it('rejects invalid options', () => {
    expect(() => new Simulator({ jobDurationMs: -1 })).toThrow(RangeError);
    expect(() => new Simulator({ contentBytes: 1.5 })).toThrow(RangeError);
  });
});

describe('Simulator list', () => {
  function fiveJobs() {
    const c = clock();
    const sim = new Simulator({ now: c.now });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(sim.createJob({ ...basic, prompt: `p${i}` }).id);
      if (i !== 2) c.advance(1000); // jobs 2 and 3 share a timestamp: insertion order breaks the tie
    }
    return { sim, ids };
  }

  it('lists newest first by default with cursor pagination', () => {
    const { sim, ids } = fiveJobs();
    const p1 = sim.list({ limit: 2 });
    expect(p1.object).toBe('list');
    expect(p1.data.map((v) => v.id)).toEqual([ids[4], ids[3]]);
    expect(p1).toMatchObject({ first_id: ids[4], last_id: ids[3], has_more: true });
    const p2 = sim.list({ limit: 2, after: p1.last_id! });
    expect(p2.data.map((v) => v.id)).toEqual([ids[2], ids[1]]);
    expect(p2.has_more).toBe(true);
    const p3 = sim.list({ limit: 2, after: p2.last_id! });
    expect(p3.data.map((v) => v.id)).toEqual([ids[0]]);
    expect(p3.has_more).toBe(false);
  });

  it('lists oldest first with order=asc; default limit 20; unknown cursor gives an empty page', () => {
    const { sim, ids } = fiveJobs();
    expect(sim.list({ order: 'asc' }).data.map((v) => v.id)).toEqual(ids);
    expect(sim.list({ after: 'video_unknown' })).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  it('counts jobs by status', () => {
    const c = clock();
    const sim = new Simulator({ jobDurationMs: 1000, now: c.now });
    sim.createJob(basic);
    c.advance(1000);
    const failing = sim.createJob(basic);
    sim.failJob(failing.id);
    sim.createJob(basic);
    expect(sim.countByStatus()).toEqual({ queued: 1, in_progress: 0, completed: 1, failed: 1 });
  });
});

describe('Simulator characters', () => {
  it('creates and fetches characters', () => {
    const sim = new Simulator({ now: () => 42_000 });
    const ch = sim.createCharacter('Mochi');
    expect(ch).toEqual({ id: expect.stringMatching(/^char_[0-9a-f]{32}$/), created_at: 42, name: 'Mochi' });
    expect(sim.getCharacter(ch.id)).toEqual(ch);
    expect(sim.getCharacter('char_nope')).toBeUndefined();
  });
});

describe('jobStatusAt', () => {
  it('is pure: the same job at the same instant gives the same answer', () => {
    const sim = new Simulator({ jobDurationMs: 1000, now: () => 0 });
    const job = sim.createJob(basic);
    expect(jobStatusAt(job, 700)).toEqual(jobStatusAt(job, 700));
    expect(jobStatusAt(job, 700).status).toBe('in_progress');
  });
});
