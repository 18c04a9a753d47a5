import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';

let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let h: Harness;
let key: { id: string; secret: string };

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  h = buildHarness({ upstreamUrl: upstream.url, upstreamKey: 'sk-upstream-only-0001' });
  key = h.newKey('100.00');
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

  it('drops hop-by-hop headers and headers named in Connection', async () => {
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
        'x-custom-kept': 'kept',
      },
      body: JSON.stringify({ prompt: 'p' }),
    });
    expect(res.status).toBe(200);
    const rec = upstream.requests[0]!;
    expect(rec.headers['x-private-hop']).toBeUndefined();
    expect(rec.headers['proxy-authorization']).toBeUndefined();
    expect(rec.headers['te']).toBeUndefined();
    expect(rec.headers['keep-alive']).toBeUndefined();
    expect(rec.headers['x-custom-kept']).toBe('kept');
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
    const before = h.deps.store.getKey(key.id)!;
    const res = await h.createJson(key.secret, { prompt: 'forbidden' });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(errorBody);
    const after = h.deps.store.getKey(key.id)!;
    expect(after.balanceMicros).toBe(before.balanceMicros);
    expect(after.heldMicros).toBe(before.heldMicros);
  });
});
