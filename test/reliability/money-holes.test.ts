import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { inProcess, type InProcess } from './support.js';
import { testReconciler } from '../helpers/reconciler.js';

/**
 * The money holes that outside testing found (issue 16, items 1, 4, 5 and 6): free videos by
 * download-then-delete, remixes of extended videos priced at the extension's seconds, a create
 * answered with a video id reelay already has, and upstream numbers taken on trust.
 */
let up: FaultUpstream;
let h: InProcess;
let clock = Date.UTC(2026, 11, 6, 12, 0, 0);
const now = () => clock;

beforeAll(async () => {
  up = await startFaultUpstream();
  h = inProcess({ upstreamUrl: up.url, now, env: { UPSTREAM_HEADERS_TIMEOUT_MS: '500', UPSTREAM_BODY_TIMEOUT_MS: '500' } });
});

afterAll(async () => {
  expect(h.leaks()).toEqual([]);
  await h.close();
  await up.close();
});

const reconciler = () => testReconciler(h.deps, { now });
const jobOf = async (videoId: string) => (await h.deps.store.getJobByVideoId(videoId))!;

async function create(key: { secret: string }, body: Record<string, unknown> = { prompt: 'p', seconds: '8' }, path = '/v1/videos') {
  const res = await h.call(path, { method: 'POST', key: key.secret, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res;
}

async function openJob(creditUsd = '10.00') {
  const key = await h.newKey(creditUsd);
  const res = await create(key);
  expect(res.status).toBe(200);
  return { key, id: res.json().id as string };
}

/** Three 404s a minute apart: what the reconciler needs to call a job vanished. */
async function reconcileThroughVanishing() {
  for (let i = 0; i < 4; i++) {
    clock += 2 * 60_000;
    await reconciler().tick();
  }
}

describe('nothing leaves unbilled: download-then-delete', () => {
  it('a finished video downloaded and deleted before the reconciler saw it complete is charged', async () => {
    const { key, id } = await openJob();
    up.setJob(id, { status: 'completed', progress: 100, seconds: '8', completed_at: Math.floor(clock / 1000) });

    const content = await h.call(`/v1/videos/${id}/content`, { key: key.secret });
    expect(content.status).toBe(200);
    // Settled before the content went out, not by some later poll.
    expect(await jobOf(id)).toMatchObject({ status: 'completed', chargedMicros: 800_000, billedSeconds: 8 });

    expect((await h.call(`/v1/videos/${id}`, { method: 'DELETE', key: key.secret })).status).toBe(200);
    await reconcileThroughVanishing();
    expect(await jobOf(id)).toMatchObject({ status: 'completed', chargedMicros: 800_000 });
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 9_200_000, heldMicros: 0 });
    expect(await h.violations()).toEqual([]);
  });

  it('a finished video deleted without a download is charged: the delete looks the job up first', async () => {
    const { key, id } = await openJob();
    up.setJob(id, { status: 'completed', progress: 100, seconds: '8', completed_at: Math.floor(clock / 1000) });
    const before = up.requests.length;
    expect((await h.call(`/v1/videos/${id}`, { method: 'DELETE', key: key.secret })).status).toBe(200);
    const sent = up.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    expect(sent).toEqual([`GET /v1/videos/${id}`, `DELETE /v1/videos/${id}`]);
    await reconcileThroughVanishing();
    expect(await jobOf(id)).toMatchObject({ status: 'completed', chargedMicros: 800_000 });
    expect(await h.violations()).toEqual([]);
  });

  it('a delete is not forwarded while the upstream cannot say what became of the job', async () => {
    const { key, id } = await openJob();
    up.script({ method: 'GET', path: `/v1/videos/${id}`, times: 1, behaviour: { kind: 'status', status: 500 } });
    const before = up.requests.length;
    const res = await h.call(`/v1/videos/${id}`, { method: 'DELETE', key: key.secret });
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ error: { code: 'upstream_error' } });
    expect(up.requests.slice(before).some((r) => r.method === 'DELETE')).toBe(false);
    expect((await jobOf(id)).deletedAt).toBeNull();
  });

  it('a failed job downloaded or deleted stays free, and an unfinished one stays open', async () => {
    const failed = await openJob();
    up.setJob(failed.id, { status: 'failed', error: { code: 'moderation_blocked', message: 'x' } });
    await h.call(`/v1/videos/${failed.id}/content`, { key: failed.key.secret });
    expect(await jobOf(failed.id)).toMatchObject({ status: 'failed', chargedMicros: 0 });

    const open = await openJob();
    const res = await h.call(`/v1/videos/${open.id}/content`, { key: open.key.secret });
    expect(res.status).toBe(200);
    expect(['queued', 'in_progress']).toContain((await jobOf(open.id)).status);
    expect(await h.violations()).toEqual([]);
  });
});

describe('remix and edit pricing', () => {
  it('a remix of an extended video is priced at its whole stitched length', async () => {
    const key = await h.newKey('20.00');
    const src = (await create(key, { prompt: 'src', seconds: '4' })).json().id as string;
    up.setJob(src, { status: 'completed', progress: 100, seconds: '4', completed_at: Math.floor(clock / 1000) });
    expect((await h.call(`/v1/videos/${src}`, { key: key.secret })).status).toBe(200);

    const ext = await create(key, { prompt: 'more', seconds: '12', video: { id: src } }, '/v1/videos/extensions');
    expect(ext.status).toBe(200);
    const extId = ext.json().id as string;
    up.setJob(extId, { status: 'completed', progress: 100, seconds: '16', completed_at: Math.floor(clock / 1000) });
    expect((await h.call(`/v1/videos/${extId}`, { key: key.secret })).status).toBe(200);
    // The extension itself bills its own 12 s; the video it made is 16 s long.
    expect(await jobOf(extId)).toMatchObject({ status: 'completed', billedSeconds: 12, chargedMicros: 1_200_000, outputSeconds: 16 });

    const remix = await create(key, { prompt: 'again' }, `/v1/videos/${extId}/remix`);
    expect(remix.status).toBe(200);
    expect(remix.headers.get('x-reelay-hold-usd')).toBe('1.600000');
    const remixId = remix.json().id as string;
    expect(await jobOf(remixId)).toMatchObject({ requestedSeconds: 16, heldMicros: 1_600_000 });

    // The remix completes at 16 s: 16 s are charged (more than the model's 12 s at create).
    up.setJob(remixId, { status: 'completed', progress: 100, seconds: '16', completed_at: Math.floor(clock / 1000) });
    await h.call(`/v1/videos/${remixId}`, { key: key.secret });
    expect(await jobOf(remixId)).toMatchObject({ billedSeconds: 16, chargedMicros: 1_600_000 });

    const edit = await create(key, { prompt: 'edit', video: { id: extId } }, '/v1/videos/edits');
    expect(edit.status).toBe(200);
    expect(edit.headers.get('x-reelay-hold-usd')).toBe('1.600000');
    expect(await h.violations()).toEqual([]);
  });

  it('a source that did not complete is refused with 400 on video, with no upstream call', async () => {
    const key = await h.newKey('10.00');
    const failedId = (await create(key, { prompt: 'f', seconds: '4' })).json().id as string;
    up.setJob(failedId, { status: 'failed', error: { code: 'x', message: 'x' } });
    await h.call(`/v1/videos/${failedId}`, { key: key.secret });
    expect((await jobOf(failedId)).status).toBe('failed');
    const openId = (await create(key, { prompt: 'o', seconds: '4' })).json().id as string;

    for (const source of [failedId, openId]) {
      const creates = up.creates().length;
      const remix = await create(key, { prompt: 'r' }, `/v1/videos/${source}/remix`);
      expect(remix.status).toBe(400);
      expect(remix.json()).toMatchObject({ error: { code: 'invalid_request', param: 'video' } });
      const edit = await create(key, { prompt: 'e', video: { id: source } }, '/v1/videos/edits');
      expect(edit.status).toBe(400);
      expect(edit.json()).toMatchObject({ error: { param: 'video' } });
      expect(up.creates().length).toBe(creates);
    }
  });

  it('a remix of a source that finished upstream but not yet in reelay looks it up, settles it and goes ahead', async () => {
    const key = await h.newKey('10.00');
    const src = (await create(key, { prompt: 's', seconds: '8' })).json().id as string;
    up.setJob(src, { status: 'completed', progress: 100, seconds: '8', completed_at: Math.floor(clock / 1000) });
    const remix = await create(key, { prompt: 'r' }, `/v1/videos/${src}/remix`);
    expect(remix.status).toBe(200);
    expect(await jobOf(src)).toMatchObject({ status: 'completed', chargedMicros: 800_000 });
    expect(remix.headers.get('x-reelay-hold-usd')).toBe('0.800000');
  });
});

describe('what the upstream reports is checked', () => {
  it.each([
    ['negative seconds', { seconds: -4 }],
    ['zero seconds', { seconds: '0' }],
    ['absurd seconds', { seconds: 1e15 }],
    ['seconds over what the model allows', { seconds: '20' }],
    ['not a number', { seconds: 'eight' }],
  ])('%s: billed at the requested seconds, never a negative or inflated charge', async (_name, patch) => {
    const { key, id } = await openJob();
    up.setJob(id, { status: 'completed', progress: 100, completed_at: Math.floor(clock / 1000), ...(patch as object) });
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect(await jobOf(id)).toMatchObject({ status: 'completed', billedSeconds: 8, chargedMicros: 800_000 });
    // A remix of it is priced at 8 s too: never a negative hold.
    const remix = await create(key, { prompt: 'r' }, `/v1/videos/${id}/remix`);
    expect(remix.status).toBe(200);
    expect(remix.headers.get('x-reelay-hold-usd')).toBe('0.800000');
    expect(h.capture.logs.some((l) => l.includes('upstream_seconds_out_of_range'))).toBe(true);
    expect(await h.violations()).toEqual([]);
  });

  it('an out-of-range completed_at is ignored: admin views and exports keep working', async () => {
    const { key, id } = await openJob();
    up.setJob(id, { status: 'completed', progress: 100, seconds: '8', completed_at: 1e13 });
    await h.call(`/v1/videos/${id}`, { key: key.secret });
    expect((await jobOf(id)).completedAt).toBe(clock);
    for (const path of [`/admin/jobs?key_id=${key.id}`, `/admin/usage/export?from=2026-12-01&to=2026-12-31&format=csv`, '/admin/ui']) {
      const res = await h.call(path, { admin: true });
      expect([200, 302, 303]).toContain(res.status);
    }
    const jobs = (await h.call(`/admin/jobs?key_id=${key.id}`, { admin: true })).json();
    expect(jobs.data[0].completed_at).toBe(new Date(clock).toISOString());
  });
});

describe('a create answered with a video id reelay already has', () => {
  it('is an upstream error: 502 with x-should-retry false, hold released, nothing left pending, incident logged', async () => {
    const first = await openJob();
    const key = await h.newKey('10.00');
    const dup = JSON.stringify({ id: first.id, object: 'video', status: 'queued', progress: 0, model: 'sora-2', seconds: '8', size: '720x1280' });
    for (let i = 0; i < 3; i++) {
      up.script({ method: 'POST', path: '/v1/videos', times: 1, behaviour: { kind: 'status', status: 200, body: dup } });
      const res = await create(key);
      expect(res.status).toBe(502);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect(res.json()).toMatchObject({ error: { code: 'upstream_error' } });
    }
    // Every retry released its hold: nothing leaks, the first job is untouched.
    expect(await h.deps.store.getKey(key.id)).toMatchObject({ balanceMicros: 10_000_000, heldMicros: 0 });
    const rows = h.database.sqlite.prepare('select status from jobs where key_id = ?').all(key.id) as { status: string }[];
    expect(rows.map((r) => r.status)).toEqual(['unknown', 'unknown', 'unknown']);
    expect((await jobOf(first.id)).keyId).toBe(first.key.id);
    expect(h.capture.logs.filter((l) => l.includes('upstream_duplicate_video_id')).length).toBeGreaterThanOrEqual(3);
    expect(await h.violations()).toEqual([]);
  });
});
