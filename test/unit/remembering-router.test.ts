import { describe, expect, it } from 'vitest';
import { TrieRouter } from 'hono/router/trie-router';
import { RememberingRouter, REMEMBERED_PATHS, REMEMBERED_PATH_MAX_LENGTH } from '../../src/http/remembering-router.js';
import { buildHarness } from '../helpers/app-harness.js';

// No request here reaches the upstream: an address nothing listens on is enough.
const harness = () => buildHarness({ upstreamUrl: 'http://127.0.0.1:9/v1' });

/** The routes reelay's app registers, in order, as [method, path] (handlers are their index). */
function appRoutes(): [string, string][] {
  const h = harness();
  try {
    return h.app.routes.map((r) => [r.method, r.path]);
  } finally {
    h.close();
  }
}

describe('RememberingRouter', () => {
  it('answers exactly as hono’s trie router does for reelay’s routes', () => {
    const routes = appRoutes();
    const trie = new TrieRouter<number>();
    const remembering = new RememberingRouter<number>();
    routes.forEach(([method, path], i) => {
      trie.add(method, path, i);
      remembering.add(method, path, i);
    });
    const probes: [string, string][] = [
      ['GET', '/v1/videos/video_123'],
      ['GET', '/v1/videos/video_123/content'],
      ['GET', '/v1/videos'],
      ['POST', '/v1/videos'],
      ['POST', '/v1/videos/edits'],
      ['POST', '/v1/videos/video_9/remix'],
      ['GET', '/v1/videos/characters/char_1'],
      ['DELETE', '/v1/videos/video_123'],
      ['GET', '/admin/requests'],
      ['GET', '/healthz'],
      ['GET', '/no/such/route'],
      ['PATCH', '/v1/videos/video_123'],
    ];
    for (const [method, path] of probes) {
      const expected = trie.match(method, path);
      expect(remembering.match(method, path), `${method} ${path}`).toEqual(expected);
      expect(remembering.match(method, path), `${method} ${path}, remembered`).toEqual(expected);
    }
  });

  it('hands out the remembered answer for a path it has seen', () => {
    const router = new RememberingRouter<string>();
    router.add('GET', '/v1/videos/:id', 'retrieve');
    const first = router.match('GET', '/v1/videos/video_1');
    expect(router.match('GET', '/v1/videos/video_1')).toBe(first);
    expect(router.match('GET', '/v1/videos/video_2')).not.toBe(first);
    expect(router.match('DELETE', '/v1/videos/video_1')).not.toBe(first);
    expect(router.match('GET', '/v1/videos/video_2')[0][0]![1]).toEqual({ id: 'video_2' });
  });

  it(`remembers at most ${REMEMBERED_PATHS} paths, forgetting the oldest first`, () => {
    const router = new RememberingRouter<string>();
    router.add('GET', '/v1/videos/:id', 'retrieve');
    const oldest = router.match('GET', '/v1/videos/video_0');
    const second = router.match('GET', '/v1/videos/video_1');
    for (let i = 2; i <= REMEMBERED_PATHS; i++) router.match('GET', `/v1/videos/video_${i}`);
    expect(router.size).toBe(REMEMBERED_PATHS);
    expect(router.match('GET', '/v1/videos/video_1')).toBe(second);
    expect(router.match('GET', '/v1/videos/video_0')).not.toBe(oldest);
    expect(router.size).toBe(REMEMBERED_PATHS);
  });

  it(`does not remember paths longer than ${REMEMBERED_PATH_MAX_LENGTH} characters`, () => {
    const router = new RememberingRouter<string>();
    router.add('GET', '/v1/videos/:id', 'retrieve');
    const longest = `/v1/videos/${'v'.repeat(REMEMBERED_PATH_MAX_LENGTH - '/v1/videos/'.length)}`;
    const tooLong = `${longest}v`;
    expect(router.match('GET', tooLong)[0].map(([h]) => h)).toEqual(['retrieve']);
    expect(router.size).toBe(0);
    router.match('GET', longest);
    expect(router.size).toBe(1);
  });

  it('forgets every answer when a route is added', () => {
    const router = new RememberingRouter<string>();
    router.add('GET', '/v1/videos/:id', 'retrieve');
    expect(router.match('GET', '/v1/videos/edits')[0].map(([h]) => h)).toEqual(['retrieve']);
    router.add('GET', '/v1/videos/edits', 'edits');
    expect(router.size).toBe(0);
    expect(router.match('GET', '/v1/videos/edits')[0].map(([h]) => h)).toEqual(['retrieve', 'edits']);
  });

  it('is the router reelay’s app dispatches with', async () => {
    const h = harness();
    try {
      expect(h.app.router).toBeInstanceOf(RememberingRouter);
      const router = h.app.router as RememberingRouter<unknown>;
      const before = router.size;
      expect((await h.app.request('/healthz')).status).toBe(200);
      expect(router.size).toBe(before + 1);
    } finally {
      h.close();
    }
  });
});
