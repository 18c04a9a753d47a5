import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';

let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let h: Harness;
let key: { id: string; secret: string };

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  h = buildHarness({ upstreamUrl: upstream.url });
  key = await h.newKey('50.00');
});
afterAll(async () => {
  h.close();
  await upstream.close();
});

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

function multipart(parts: Record<string, string | Blob>): Promise<{ body: Uint8Array<ArrayBuffer>; type: string }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(parts)) form.append(k, v);
  const req = new Request('http://x/', { method: 'POST', body: form });
  return req.arrayBuffer().then((b) => ({ body: new Uint8Array(b), type: req.headers.get('content-type')! }));
}

describe('validation before forwarding', () => {
  it.each([
    ['malformed JSON', '{"prompt": "x",', 'invalid_request', null],
    ['a JSON array', '[1,2]', 'invalid_request', null],
    ['missing prompt', { model: 'sora-2' }, 'invalid_request', 'prompt'],
    ['a number prompt', { prompt: 7 }, 'invalid_request', 'prompt'],
    ['an unpriced model', { prompt: 'p', model: 'sora-9' }, 'model_not_priced', 'model'],
    ['seconds not allowed', { prompt: 'p', seconds: '5' }, 'invalid_request', 'seconds'],
    ['negative seconds', { prompt: 'p', seconds: -8 }, 'invalid_request', 'seconds'],
    ['huge seconds', { prompt: 'p', seconds: 1e308 }, 'invalid_request', 'seconds'],
    ['a size not priced for the model', { prompt: 'p', model: 'sora-2', size: '1920x1080' }, 'invalid_request', 'size'],
    ['an input_reference string', { prompt: 'p', input_reference: 'http://x/y.png' }, 'invalid_request', 'input_reference'],
    ['an input_reference with both keys', { prompt: 'p', input_reference: { image_url: 'a', file_id: 'b' } }, 'invalid_request', 'input_reference'],
    ['a prototype-pollution key', JSON.parse('{"prompt":"p","__proto__":{"admin":true},"seconds":"3"}'), 'invalid_request', 'seconds'],
  ])('%s → 400 %s, no upstream call, no charge', async (_name, body, code, param) => {
    const before = upstream.requests.length;
    const res = await h.call('/v1/videos', { key: key.secret, ...json(body) });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { code: string; param: string | null; type: string } }).error;
    expect(err.code).toBe(code);
    expect(err.param).toBe(param);
    expect(err.type).toBe('invalid_request_error');
    expect(upstream.requests.length).toBe(before);
    const k = (await h.deps.store.getKey(key.id))!;
    expect(k.heldMicros).toBe(0);
    expect(k.balanceMicros).toBe(50_000_000);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('rejects malformed multipart and an input_reference file of the wrong type', async () => {
    const broken = await h.call('/v1/videos', {
      key: key.secret,
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
      body: '--XYZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nunterminated',
    });
    expect(broken.status).toBe(400);
    const gif = await multipart({ prompt: 'p', input_reference: new Blob(['GIF89a'], { type: 'image/gif' }) });
    const res = await h.call('/v1/videos', { key: key.secret, method: 'POST', headers: { 'content-type': gif.type }, body: gif.body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'input_reference' } });
    expect(upstream.requests.length).toBe(0);
  });

  it('accepts input_reference objects sent as multipart fields the way the SDK nests them', async () => {
    const mp = await multipart({ prompt: 'p', 'input_reference[image_url]': 'https://example.com/a.png', seconds: '8' });
    const res = await h.call('/v1/videos', { key: key.secret, method: 'POST', headers: { 'content-type': mp.type }, body: mp.body });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-reelay-hold-usd')).toBe('0.800000');
  });

  it('refuses bodies over the limits with 413 and no upstream call', async () => {
    const before = upstream.requests.length;
    const big = JSON.stringify({ prompt: 'x'.repeat(1024 * 1024 + 10) });
    const res = await h.call('/v1/videos', { key: key.secret, ...json(big) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'request_too_large' } });
    expect(upstream.requests.length).toBe(before);
  });

  it('validates list parameters', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'order=sideways', 'after=video_unknown']) {
      const res = await h.call(`/v1/videos?${q}`, { key: key.secret });
      expect(res.status, q).toBe(400);
    }
  });

  it('answers unknown routes with the error envelope and a request id', async () => {
    const res = await h.call('/v1/nothing-here', { key: key.secret });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
