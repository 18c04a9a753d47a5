import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { startServer, type Server } from './support.js';

/**
 * One tenant cannot starve the others (issue 16, item 2): stalled downloads hold only the
 * download connections, never the ones polls, creates and the reconciler use; and each key has a
 * cap on concurrent downloads (default 8, per key configurable).
 */
let up: FaultUpstream;
let s: Server;
const DOWNLOAD_CONNECTIONS = 12;

beforeAll(async () => {
  up = await startFaultUpstream({ contentBytes: 4 * 1024 * 1024 });
  s = await startServer({
    upstreamUrl: up.url,
    reconciler: false,
    env: { UPSTREAM_DOWNLOAD_CONNECTIONS: String(DOWNLOAD_CONNECTIONS), UPSTREAM_CONNECTIONS: '8', UPSTREAM_BODY_TIMEOUT_MS: '120000' },
  });
});

afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  await s.close();
  await up.close();
});

async function completedVideo(key: { secret: string }) {
  const res = await s.call('/v1/videos', { method: 'POST', key: key.secret, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'p' }) });
  expect(res.status).toBe(200);
  const id = res.json().id as string;
  up.setJob(id, { status: 'completed', progress: 100, seconds: '4', completed_at: Math.floor(Date.now() / 1000) });
  expect((await s.call(`/v1/videos/${id}`, { key: key.secret })).status).toBe(200);
  return id;
}

/** Starts a download and waits for its response head; the body then stalls upstream. */
async function stalledDownload(key: { secret: string }, id: string, signal: AbortSignal) {
  const res = await request(`${s.base}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${key.secret}` }, signal });
  res.body.on('error', () => {});
  return res;
}

describe('downloads and the rest', () => {
  it("a tenant's stalled downloads fill the download connections, and another tenant's polls and creates still go through", async () => {
    const hog = await s.newKey('100.00');
    await s.reelay.deps.store.updateKey(hog.id, { maxConcurrentDownloads: 100 });
    const other = await s.newKey('100.00');
    const video = await completedVideo(hog);
    const otherVideo = await completedVideo(other);

    up.script({ method: 'GET', path: `/v1/videos/${video}/content`, behaviour: { kind: 'stall-midway', afterBytes: 64 * 1024 } });
    const stop = new AbortController();
    // Twice as many stalled downloads as there are download connections: some wait in the pool.
    const downloads = Array.from({ length: DOWNLOAD_CONNECTIONS * 2 }, () => stalledDownload(hog, video, stop.signal).catch((e: unknown) => e));
    try {
      const stalled = () => up.requests.filter((r) => r.path.endsWith('/content') && r.closedAt === null).length;
      expect(await waitUntil(() => stalled() === DOWNLOAD_CONNECTIONS)).toBe(true);

      // Another tenant meanwhile: a status poll (live from upstream), a create, a delete. None of
      // them waits for a download connection.
      const open = await s.call('/v1/videos', { method: 'POST', key: other.secret, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'q' }) });
      expect(open.status).toBe(200);
      const poll = await s.call(`/v1/videos/${open.json().id}`, { key: other.secret });
      expect(poll.status).toBe(200);
      expect((await s.call(`/v1/videos/${otherVideo}`, { method: 'DELETE', key: other.secret })).status).toBe(200);
      // Still stalled: those answers did not come from connections freed by finished downloads.
      expect(stalled()).toBe(DOWNLOAD_CONNECTIONS);
    } finally {
      stop.abort();
      await Promise.all(downloads);
      up.reset();
    }
  });

  it('a key has at most 8 downloads at a time by default (429 with retry-after beyond), and gets its slot back when one ends', async () => {
    const key = await s.newKey('100.00');
    const video = await completedVideo(key);
    up.script({ method: 'GET', path: `/v1/videos/${video}/content`, behaviour: { kind: 'stall-midway', afterBytes: 64 * 1024 } });
    const stops = Array.from({ length: 8 }, () => new AbortController());
    try {
      const running = await Promise.all(stops.map((c) => stalledDownload(key, video, c.signal)));
      expect(running.map((r) => r.statusCode)).toEqual(Array(8).fill(200));
      const ninth = await s.call(`/v1/videos/${video}/content`, { key: key.secret });
      expect(ninth.status).toBe(429);
      expect(ninth.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
      expect(ninth.headers.get('retry-after')).not.toBeNull();

      // Another key is not affected by this key's downloads.
      const other = await s.newKey('100.00');
      const otherVideo = await completedVideo(other);
      const theirs = await s.call(`/v1/videos/${otherVideo}/content`, { key: other.secret });
      expect(theirs.status).toBe(200);

      stops[0]!.abort();
      expect(await waitUntil(() => s.reelay.deps.downloads.count(key.id) === 7)).toBe(true);
      const again = await stalledDownload(key, video, stops[0]!.signal.aborted ? (stops[0] = new AbortController()).signal : stops[0]!.signal);
      expect(again.statusCode).toBe(200);
    } finally {
      for (const c of stops) c.abort();
      up.reset();
    }
    expect(await waitUntil(() => s.reelay.deps.downloads.count(key.id) === 0)).toBe(true);
  });

  it("a key's own limit replaces the default", async () => {
    const key = await s.newKey('100.00');
    await s.reelay.deps.store.updateKey(key.id, { maxConcurrentDownloads: 1 });
    const video = await completedVideo(key);
    up.script({ method: 'GET', path: `/v1/videos/${video}/content`, behaviour: { kind: 'stall-midway', afterBytes: 64 * 1024 } });
    const stop = new AbortController();
    try {
      const first = await stalledDownload(key, video, stop.signal);
      expect(first.statusCode).toBe(200);
      expect((await s.call(`/v1/videos/${video}/content`, { key: key.secret })).status).toBe(429);
    } finally {
      stop.abort();
      up.reset();
    }
  });
});

async function waitUntil(fn: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return fn();
}
