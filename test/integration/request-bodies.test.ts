import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHarness, type Harness } from '../helpers/app-harness.js';
import { startRecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * Bodies that parse one way for reelay and another for the upstream, bodies that used to crash or
 * stall the server, and the image uploads the SDKs send untyped — all through app.request.
 */
let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let h: Harness;

beforeAll(async () => {
  upstream = await startRecordingUpstream((req, res) => {
    const id = req.method === 'POST' ? `video_${upstream.requests.length}` : decodeURIComponent(req.url.split('/').pop()!);
    const status = req.method === 'POST' ? 'queued' : 'completed';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, object: 'video', model: 'sora-2', status, progress: status === 'completed' ? 100 : 0, seconds: '4', size: '720x1280' }));
  });
  h = buildHarness({ upstreamUrl: upstream.url });
});
afterAll(async () => {
  h.close();
  await upstream.close();
});

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('\0\0\0\rIHDR…the rest of a png')]);

function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string; type?: string }>, boundary = 'reelay-test-boundary') {
  const pieces: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    if (p.type !== undefined) head += `\r\nContent-Type: ${p.type}`;
    pieces.push(Buffer.from(`${head}\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), type: `multipart/form-data; boundary=${boundary}` };
}

const postRaw = (path: string, secret: string, type: string, body: string | Buffer) =>
  h.call(path, { key: secret, method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : new Uint8Array(body) });

/** A completed job of `secret`'s key, as a source for edits. */
async function completedVideo(secret: string): Promise<string> {
  const res = await h.createJson(secret, { prompt: 'source' });
  expect(res.status).toBe(200);
  const id = ((await res.json()) as { id: string }).id;
  expect(((await (await h.call(`/v1/videos/${id}`, { key: secret })).json()) as { status: string }).status).toBe('completed');
  return id;
}

async function expectRefused(res: Response, param: string | null, before: number, keyId: string) {
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', type: 'invalid_request_error', param } });
  expect(upstream.requests.length).toBe(before);
  expect((await h.deps.store.getKey(keyId))!.heldMicros).toBe(0);
}

describe('ambiguous bodies are refused, never validated one way and forwarded another', () => {
  it.each([
    ['a second model (a 12 s pro job that an upstream reading the first value bills as sora-2)', '{"prompt":"p","model":"sora-2-pro","size":"1792x1024","seconds":"12","model":"sora-2"}', 'model'],
    ['a second seconds, spelled with an escape', '{"prompt":"p","seconds":"4","s\\u0065conds":"12"}', 'seconds'],
    ['a nested duplicate', '{"prompt":"p","input_reference":{"image_url":"https://a.example/1.png","image_url":"https://b.example/2.png"}}', 'input_reference.image_url'],
  ])('JSON with %s → 400 naming the key, no upstream call, nothing held', async (_name, body, param) => {
    const key = await h.newKey('10.00');
    const before = upstream.requests.length;
    await expectRefused(await postRaw('/v1/videos', key.secret, 'application/json', body), param, before, key.id);
  });

  it("an edit that names another tenant's video first and its own second (JSON or multipart video[id]) → 400, nothing forwarded", async () => {
    const victim = await h.newKey('10.00');
    const attacker = await h.newKey('10.00');
    const theirs = await completedVideo(victim.secret);
    const mine = await completedVideo(attacker.secret);
    const before = upstream.requests.length;
    const json = `{"prompt":"edit","video":{"id":"${theirs}","id":"${mine}"}}`;
    await expectRefused(await postRaw('/v1/videos/edits', attacker.secret, 'application/json', json), 'video.id', before, attacker.id);
    const form = multipart([
      { name: 'prompt', value: 'edit' },
      { name: 'video[id]', value: theirs },
      { name: 'video[id]', value: mine },
    ]);
    await expectRefused(await postRaw('/v1/videos/edits', attacker.secret, form.type, form.body), 'video[id]', before, attacker.id);
    // The same edit naming its own video once goes through.
    const ok = multipart([{ name: 'prompt', value: 'edit' }, { name: 'video[id]', value: mine }]);
    expect((await postRaw('/v1/videos/edits', attacker.secret, ok.type, ok.body)).status).toBe(200);
  });
});

describe('deeply nested JSON', () => {
  it.each([5_000, 100_000])('a prompt nested %i deep → 400 invalid_request (not a 500), and the server goes on answering', async (depth) => {
    const key = await h.newKey('10.00');
    const before = upstream.requests.length;
    for (const nested of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(depth) + '"x"' + '}'.repeat(depth)]) {
      const res = await postRaw('/v1/videos', key.secret, 'application/json', `{"prompt":${nested}}`);
      await expectRefused(res, 'prompt', before, key.id);
    }
    const withIdempotency = await h.call('/v1/videos', {
      key: key.secret,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `deep-${depth}` },
      body: `{"prompt":"p","extra":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    });
    await expectRefused(withIdempotency, 'extra', before, key.id);
    expect((await h.call('/healthz')).status).toBe(200);
    expect((await h.createJson(key.secret, { prompt: 'still up' })).status).toBe(200);
  });
});

describe('images uploaded as application/octet-stream or untyped (as the SDKs send them)', () => {
  it.each([['application/octet-stream'], [undefined]])('sent as %s: accepted, forwarded as image/png with identical bytes', async (type) => {
    const key = await h.newKey('10.00');
    const form = multipart([
      { name: 'prompt', value: 'p' },
      { name: 'input_reference', value: PNG, filename: 'ref.bin', ...(type ? { type } : {}) },
    ]);
    const res = await postRaw('/v1/videos', key.secret, form.type, form.body);
    expect(res.status).toBe(200);
    const sent = upstream.requests.at(-1)!;
    expect(sent.headers['content-type']).toBe(form.type);
    expect(sent.body.equals(multipart([{ name: 'prompt', value: 'p' }, { name: 'input_reference', value: PNG, filename: 'ref.bin', type: 'image/png' }]).body)).toBe(true);
    expect(Number(sent.headers['content-length'])).toBe(sent.body.length);
  });

  it('octet-stream that is not an image is refused on input_reference, whatever its file name', async () => {
    const key = await h.newKey('10.00');
    const before = upstream.requests.length;
    const form = multipart([{ name: 'prompt', value: 'p' }, { name: 'input_reference', value: 'GIF89a', filename: 'x.png', type: 'application/octet-stream' }]);
    await expectRefused(await postRaw('/v1/videos', key.secret, form.type, form.body), 'input_reference', before, key.id);
  });
});

describe('large multipart bodies do not hold the server up', () => {
  it('1.1 M tiny fields (a 60 MB body) → 400 at the part limit, not a parse of every field', async () => {
    const key = await h.newKey('10.00');
    const before = upstream.requests.length;
    const fields = Array.from({ length: 1_100_000 }, (_, i) => `--B\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nx\r\n`);
    const body = Buffer.from(`--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\np\r\n${fields.join('')}--B--\r\n`);
    const res = await postRaw('/v1/videos', key.secret, 'multipart/form-data; boundary=B', body);
    const text = await res.clone().text();
    expect(text).toMatch(/at most 100 parts/);
    await expectRefused(res, null, before, key.id);
  });

  it('/healthz is answered while a 48 MiB upload is parsed (after its last byte was read, before it is answered)', async () => {
    const key = await h.newKey('10.00');
    // No prompt: the answer (400) comes right after the parse, with no upstream call in between.
    const form = multipart([{ name: 'input_reference', value: Buffer.concat([PNG, Buffer.alloc(48 * 1024 * 1024, 1)]), filename: 'big.png', type: 'image/png' }]);
    const CHUNK = 1024 * 1024;
    let offset = 0;
    let bodyRead = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(form.body.subarray(offset, offset + CHUNK)));
        offset += CHUNK;
        if (offset >= form.body.length) {
          controller.close();
          bodyRead = true;
        }
      },
    });
    let answered = false;
    const upload = Promise.resolve(
      h.call('/v1/videos', { key: key.secret, method: 'POST', headers: { 'content-type': form.type }, body: stream, duplex: 'half' } as RequestInit),
    ).then((res) => {
      answered = true;
      return res;
    });
    // Ask for /healthz each time the event loop comes round, until the upload is answered.
    const whileParsing: number[] = [];
    while (!answered) {
      await new Promise((r) => setImmediate(r));
      if (answered) break;
      const health = await h.call('/healthz');
      if (bodyRead && !answered) whileParsing.push(health.status);
    }
    const res = await upload;
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'prompt' } });
    expect(whileParsing.length).toBeGreaterThan(0);
    expect(whileParsing.every((s) => s === 200)).toBe(true);
  });
});
