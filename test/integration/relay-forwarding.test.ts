import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';

let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let h: Harness;
let key: { id: string; secret: string };

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  h = buildHarness({ upstreamUrl: upstream.url, upstreamKey: 'sk-upstream-only-0001' });
  key = await h.newKey('100.00');
});
afterAll(async () => {
  h.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.requests.length = 0;
});

describe('forwarding to the upstream', () => {
  it('sends the upstream key, never the client key, and the JSON body unchanged', async () => {
    const body = '{"prompt":"a cat","model":"sora-2","seconds":"8","size":"1280x720","extra_param":{"nested":[1,2]}}';
    const res = await h.call('/v1/videos', { method: 'POST', key: key.secret, headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    const rec = upstream.requests[0]!;
    expect(rec.url).toBe('/v1/videos');
    expect(rec.headers.authorization).toBe('Bearer sk-upstream-only-0001');
    expect(JSON.stringify(rec.headers)).not.toContain(key.secret);
    expect(rec.body.toString()).toBe(body);
  });

  it('drops hop-by-hop headers, headers named in Connection and headers off the allow-list', async () => {
    const res = await h.call('/v1/videos', {
      method: 'POST',
      key: key.secret,
      headers: {
        'content-type': 'application/json',
        connection: 'x-private-hop',
        'x-private-hop': 'secret-hop-value',
        'keep-alive': 'timeout=99',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        te: 'trailers',
        'x-custom-header': 'not on the allow-list',
        'user-agent': 'kept-agent',
      },
      body: JSON.stringify({ prompt: 'p' }),
    });
    expect(res.status).toBe(200);
    const rec = upstream.requests[0]!;
    expect(rec.headers['x-private-hop']).toBeUndefined();
    expect(rec.headers['proxy-authorization']).toBeUndefined();
    expect(rec.headers['te']).toBeUndefined();
    expect(rec.headers['keep-alive']).toBeUndefined();
    expect(rec.headers['x-custom-header']).toBeUndefined();
    expect(rec.headers['user-agent']).toBe('kept-agent');
  });

  it('forwards a multipart body byte for byte, with its boundary', async () => {
    const form = new FormData();
    form.append('prompt', 'a dog');
    form.append('model', 'sora-2-pro');
    form.append('size', '1792x1024');
    form.append('input_reference', new Blob([Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])], { type: 'image/png' }), 'ref.png');
    const req = new Request('http://x/v1/videos', { method: 'POST', body: form });
    const raw = Buffer.from(await req.arrayBuffer());
    const res = await h.call('/v1/videos', { method: 'POST', key: key.secret, headers: { 'content-type': req.headers.get('content-type')! }, body: raw });
    expect(res.status).toBe(200);
    const rec = upstream.requests[0]!;
    expect(rec.headers['content-type']).toBe(req.headers.get('content-type'));
    expect(rec.body.equals(raw)).toBe(true);
    expect(res.headers.get('x-reelay-hold-usd')).toBe('2.000000');
  });

  it('returns the upstream request id and keeps the upstream account headers away from the client', async () => {
    upstream.setResponder((req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-request-id': 'req_upstream_42',
        'openai-organization': 'org-secret',
        'set-cookie': 'session=1',
      });
      res.end(JSON.stringify({ id: `video_hdr_${upstream.requests.length}`, object: 'video', status: 'queued', progress: 0 }));
    });
    const res = await h.createJson(key.secret, { prompt: 'p' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream-request-id')).toBe('req_upstream_42');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(res.headers.get('openai-organization')).toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
    upstream.setResponder((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: `video_${Math.random()}`, object: 'video', status: 'queued' }));
    });
  });

  it('passes upstream errors through with their status and body, and releases the hold', async () => {
    const errorBody = '{"error":{"message":"Your request was rejected by the safety system.","type":"invalid_request_error","param":null,"code":"moderation_blocked"}}';
    upstream.setResponder((req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(errorBody);
    });
    const before = (await h.deps.store.getKey(key.id))!;
    const res = await h.createJson(key.secret, { prompt: 'forbidden' });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(errorBody);
    const after = (await h.deps.store.getKey(key.id))!;
    expect(after.balanceMicros).toBe(before.balanceMicros);
    expect(after.heldMicros).toBe(before.heldMicros);
  });
  it('lets only allow-listed client headers reach the upstream on creates, polls and downloads', async () => {
    upstream.setResponder((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'video_allow_1', object: 'video', model: 'sora-2', status: 'queued', progress: 0, seconds: '4', size: '720x1280' }));
      } else if (req.url.endsWith('/content')) {
        res.writeHead(206, { 'content-type': 'video/mp4', 'content-range': 'bytes 0-3/10', 'content-length': '4' });
        res.end(Buffer.from('abcd'));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'video_allow_1', object: 'video', status: 'in_progress', progress: 5 }));
      }
    });
    const refused = {
      'idempotency-key': 'client-idem-1',
      'api-key': 'sk-client-azure-style',
      'x-http-method-override': 'DELETE',
      'true-client-ip': '10.0.0.1',
      'x-forwarded-for': '10.0.0.2',
      cookie: 'session=client',
      'openai-organization': 'org-client',
    };
    const allowed = { 'x-client-request-id': 'client-trace-1', 'x-stainless-lang': 'js', 'x-stainless-retry-count': '0', 'openai-beta': 'video=v1', 'user-agent': 'OpenAI/JS 6.49.0', accept: 'application/json' };
    const headers = { ...refused, ...allowed };

    const created = await h.call('/v1/videos', { method: 'POST', key: key.secret, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'p' }) });
    expect(created.status).toBe(200);
    const poll = await h.call('/v1/videos/video_allow_1', { key: key.secret, headers });
    expect(poll.status).toBe(200);
    const download = await h.call('/v1/videos/video_allow_1/content', { key: key.secret, headers: { ...headers, range: 'bytes=0-3', 'if-range': '"v1"' } });
    expect(download.status).toBe(206);
    await download.arrayBuffer();

    // The download of a job not yet seen completed first looks it up with reelay's own headers.
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/videos',
      'GET /v1/videos/video_allow_1',
      'GET /v1/videos/video_allow_1',
      'GET /v1/videos/video_allow_1/content',
    ]);
    const lookUp = upstream.requests.splice(2, 1)[0]!;
    expect(Object.keys(lookUp.headers).sort()).toEqual(['accept', 'accept-encoding', 'authorization', 'connection', 'host']);
    for (const rec of upstream.requests) {
      for (const name of Object.keys(refused)) expect(rec.headers[name], `${rec.url} ${name}`).toBeUndefined();
      expect(rec.headers, rec.url).toMatchObject({ ...allowed, authorization: 'Bearer sk-upstream-only-0001', 'accept-encoding': 'identity' });
      const names = Object.keys(rec.headers).filter((n) => !['host', 'connection', 'content-length', 'content-type', 'range', 'if-range'].includes(n));
      expect(names.sort(), rec.url).toEqual([...Object.keys(allowed), 'authorization', 'accept-encoding'].sort());
    }
    expect(upstream.requests[0]!.headers['content-type']).toBe('application/json');
    expect(upstream.requests[0]!.headers['content-length']).toBe(String(upstream.requests[0]!.body.length));
    expect(upstream.requests[2]!.headers).toMatchObject({ range: 'bytes=0-3', 'if-range': '"v1"' });
  });
});
