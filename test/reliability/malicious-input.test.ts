import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.js';
import { envelope, inProcess, startServer, type InProcess, type RawResult, type Server } from './support.js';

/**
 * Malicious and malformed input, generated (fast-check) and hand-picked. reelay answers the
 * contract's 4xx in OpenAI's envelope with an x-request-id, never a 5xx, never crashes, never calls
 * the upstream and never charges. Generated cases go through app.request (fast); anything that a
 * fetch client cannot even send goes over node:net to a real server.
 */
let up: FaultUpstream;
let h: InProcess;
let s: Server;
/** The key every rejected request uses: it must end exactly as it started. */
let victim: { id: string; secret: string };
let cases = 0;

beforeAll(async () => {
  up = await startFaultUpstream();
  h = inProcess({ upstreamUrl: up.url, env: { MAX_MULTIPART_BYTES: String(256 * 1024) } });
  s = await startServer({ upstreamUrl: up.url, reconciler: false, env: { MAX_MULTIPART_BYTES: String(256 * 1024), HTTP_HEADERS_TIMEOUT_MS: '2000' } });
  victim = await h.newKey('10.00');
});

afterAll(async () => {
  // Nothing reached the upstream and the victim key is whole: one credit entry, no hold, no job.
  expect(up.requests.filter((r) => r.headers['user-agent'] !== 'valid-case' && !CHARACTERS.test(r.path))).toEqual([]);
  expect(await h.deps.store.getKey(victim.id)).toMatchObject({ balanceMicros: 10_000_000, heldMicros: 0 });
  expect(h.database.sqlite.prepare('select kind, count(*) as n from ledger where key_id = ? group by kind').all(victim.id)).toEqual([{ kind: 'credit', n: 1 }]);
  expect(h.database.sqlite.prepare('select count(*) as n from jobs where key_id = ?').get(victim.id)).toEqual({ n: 0 });
  expect(await h.violations()).toEqual([]);
  expect(await s.violations()).toEqual([]);
  expect(h.capture.logs.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  expect(s.capture.logs.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  expect(h.leaks()).toEqual([]);
  expect(s.leaks()).toEqual([]);
  expect(Object.prototype).toEqual({});
  console.info(`malicious input: ${cases} cases`);
  await h.close();
  await s.close();
  await up.close();
});

/** Character routes are forwarded as they are (not billed, not owned): the only /v1 calls that may reach the upstream here. */
const CHARACTERS = /^\/v1\/videos\/characters(\/[^/?]*)?$/;

type Answer = { status: number; text: string; headers: Headers; json: () => Record<string, any> };

/** Every answer to bad input: a 4xx in the envelope with x-request-id. */
function expectContract4xx(res: Answer, statuses = [400]): void {
  cases++;
  expect(statuses, res.text.slice(0, 300)).toContain(res.status);
  const err = envelope(res.text);
  expect(err, res.text.slice(0, 300)).not.toBeNull();
  expect(res.headers.get('x-request-id'), JSON.stringify([...res.headers])).toMatch(/^req_|^[A-Za-z0-9._:-]{1,128}$/);
}

const KNOWN_SECONDS = new Set([4, 8, 12]);
const badSeconds = fc.oneof(
  fc.double().filter((n) => !(Number.isInteger(n) && KNOWN_SECONDS.has(n))),
  fc.integer().filter((n) => !KNOWN_SECONDS.has(n)),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -4, -0, 0, 4.5, 7.999999, Number.MAX_SAFE_INTEGER),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '-4', '4.0', ' 4', '4 ', '0x4', '４', '٤', '1e1', '', '4\u0000', '8; DROP TABLE jobs', '99999999999'),
  fc.string().filter((v) => !/^\d{1,6}$/.test(v) || !KNOWN_SECONDS.has(Number(v))),
  fc.constantFrom(null, true, false, [], ['4'], {}, { value: 4 }),
);
const badSize = fc.oneof(
  fc.string().filter((v) => v !== '720x1280' && v !== '1280x720'),
  fc.constantFrom('720X1280', '720x1280 ', '1920x1080', '0x0', '-1x-1', '720x1280\n', '9'.repeat(5000)),
  fc.constantFrom(null, 720, true, ['720x1280'], { w: 720 }),
);
const badModel = fc.oneof(
  fc.string({ minLength: 1 }).filter((v) => !/^sora-2(-pro)?(-\d{4}-\d{2}-\d{2})?$/.test(v)),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'sora-2 ', 'SORA-2', 'sora-2-2025-13-45x', ''),
  fc.constantFrom(null, 7, true, ['sora-2'], { name: 'sora-2' }),
);
const badPrompt = fc.oneof(fc.constantFrom(undefined, '', '   ', '\n\t'), fc.constantFrom(null, 0, 1, true, [], ['p'], {}, { text: 'p' }));
const badReference = fc.oneof(
  fc.string(),
  fc.constantFrom(null, 1, true, [], {}, { image_url: '' }, { image_url: 'a', file_id: 'b' }, { evil: 'x' }, { image_url: 5 }, { __proto__: { image_url: 'x' } }),
);
const pollution = fc.constantFrom(
  {},
  JSON.parse('{"__proto__": {"polluted": true}}') as object,
  JSON.parse('{"constructor": {"prototype": {"polluted": true}}}') as object,
  JSON.parse('{"__proto__": {"seconds": "4", "prompt": "x"}}') as object,
);

/** A body that is wrong in exactly one named field (plus optional prototype-pollution keys). */
const invalidBody = fc
  .tuple(
    fc.constantFrom('prompt', 'model', 'seconds', 'size', 'input_reference'),
    fc.record({ prompt: badPrompt, model: badModel, seconds: badSeconds, size: badSize, input_reference: badReference }),
    pollution,
  )
  .map(([field, bad, extra]) => {
    const body: Record<string, unknown> = { prompt: 'a cat', model: 'sora-2', seconds: '4', size: '720x1280' };
    const value = (bad as Record<string, unknown>)[field];
    if (value === undefined) delete body[field];
    else body[field] = value;
    const json = JSON.stringify(body);
    const extraJson = JSON.stringify(extra);
    return { field, text: extraJson === '{}' ? json : `${extraJson.slice(0, -1)},${json.slice(1)}` };
  });

describe('generated JSON bodies (fast-check)', () => {
  it('a body wrong in any one field is a 400 naming that field, with no upstream call and no charge', async () => {
    await fc.assert(
      fc.asyncProperty(invalidBody, async ({ field, text }) => {
        const res = await h.createJson(victim.secret, text);
        expectContract4xx(res);
        const err = res.json().error;
        expect(err.code === 'invalid_request' || err.code === 'model_not_priced').toBe(true);
        expect(err.param).toBe(field === 'input_reference' ? 'input_reference' : field);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 400, seed: 7 },
    );
  });

  it('any JSON value at all gets 200 (a valid create, held and sent once) or a 4xx, never a 5xx', async () => {
    const payer = await h.newKey('1000.00');
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('sora-2', 'sora-2-pro', '4', '8', '12', '720x1280', '1792x1024', 'a prompt'));
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ prompt: field, model: field, seconds: field, size: field, input_reference: field }, { requiredKeys: [] }),
      fc.dictionary(fc.constantFrom('prompt', 'model', 'seconds', 'size', '__proto__', 'constructor', 'x'), field),
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const before = up.creates().length;
        const res = await h.createJson(payer.secret, JSON.stringify(value) ?? 'null', { 'user-agent': 'valid-case' });
        cases++;
        expect(res.status).toBeLessThan(500);
        if (res.status === 200) {
          accepted++;
          expect(up.creates().length).toBe(before + 1);
          expect(res.headers.get('x-reelay-hold-usd')).toMatch(/^\d+\.\d{6}$/);
        } else {
          expectContract4xx(res, [400, 403]);
          expect(up.creates().length).toBe(before);
        }
      }),
      { numRuns: 300, seed: 11 },
    );
    expect(await h.violations()).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
  });

  it('random bytes under any content type are a 4xx, never forwarded', async () => {
    const contentType = fc.oneof(
      fc.constantFrom('application/json', 'multipart/form-data; boundary=XYZ', 'multipart/form-data', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', ''),
      fc.string({ maxLength: 60 }).filter((v) => !/[\r\n\0]/.test(v) && /^[\x20-\x7e]*$/.test(v)),
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4096 }), contentType, async (bytes, type) => {
        const res = await h.call('/v1/videos', { method: 'POST', key: victim.secret, headers: type ? { 'content-type': type } : {}, body: bytes });
        expectContract4xx(res, [400, 413, 415]);
      }),
      { numRuns: 200, seed: 13 },
    );
  });

  it('random multipart forms (odd names, pollution keys, files of any type) never reach a 5xx', async () => {
    const payer = await h.newKey('1000.00');
    const name = fc.oneof(
      fc.constantFrom('prompt', 'model', 'seconds', 'size', 'input_reference', 'input_reference[image_url]', 'input_reference[file_id]', '__proto__', '__proto__[polluted]', 'constructor[prototype]', 'video[id]', 'a[b][c]', '[]', ''),
      fc.string({ maxLength: 20 }),
    );
    const value = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constantFrom('4', '8', 'sora-2', '720x1280'),
      fc.record({ type: fc.constantFrom('image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream', 'text/html', ''), size: fc.integer({ min: 0, max: 2048 }), filename: fc.string({ maxLength: 30 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 8 }), async (parts) => {
        const form = new FormData();
        for (const [n, v] of parts) {
          if (typeof v === 'string') form.append(n, v);
          else form.append(n, new Blob([new Uint8Array(v.size)], { type: v.type }), v.filename || 'f');
        }
        const req = new Request('http://x/', { method: 'POST', body: form });
        const bytes = new Uint8Array(await req.arrayBuffer());
        const before = up.creates().length;
        const res = await h.call('/v1/videos', { method: 'POST', key: payer.secret, headers: { 'content-type': req.headers.get('content-type')!, 'user-agent': 'valid-case' }, body: bytes });
        cases++;
        expect(res.status).toBeLessThan(500);
        if (res.status !== 200) {
          expectContract4xx(res, [400, 413]);
          expect(up.creates().length).toBe(before);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 200, seed: 17 },
    );
    expect(await h.violations()).toEqual([]);
  });

  it('random paths, methods and ids under /v1 and /admin are 4xx and never reach the upstream', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 30 }).map(encodeURIComponent),
      fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', 'video_123', 'content', 'remix', 'characters', 'edits', 'extensions', '__proto__', 'constructor', "'%20or%201=1--", '%F0%9F%92%A5'),
    );
    const path = fc.tuple(fc.constantFrom('/v1', '/v1/videos', '/admin', '/admin/keys', '/v1/videos/characters'), fc.array(segment, { maxLength: 4 }), fc.option(fc.string({ maxLength: 30 }).map(encodeURIComponent))).map(
      ([root, segs, q]) => `${root}${segs.length ? '/' : ''}${segs.join('/')}${q ? `?${q}` : ''}`,
    );
    const method = fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH', 'PUT', 'OPTIONS', 'HEAD');
    await fc.assert(
      fc.asyncProperty(path, method, async (p, m) => {
        const before = up.requests.length;
        const res = await h.call(p, { method: m, key: victim.secret, ...(m === 'POST' || m === 'PATCH' || m === 'PUT' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
        cases++;
        expect(res.status, `${m} ${p}`).toBeLessThan(500);
        if (m !== 'HEAD' && res.status >= 400) expect(envelope(res.text), `${m} ${p}: ${res.text.slice(0, 100)}`).not.toBeNull();
        // Nothing is forwarded, except the character routes (forwarded as they are).
        if (!CHARACTERS.test(p.split('?')[0]!)) expect(up.requests.length - before, `${m} ${p}`).toBe(0);
      }),
      { numRuns: 300, seed: 19 },
    );
  });

  it('random header values (request ids, idempotency keys, authorization) never reach a 5xx', async () => {
    const headerValue = fc.string({ maxLength: 300 }).filter((v) => /^[\x20-\x7e\x80-\xff]*$/.test(v) && v.trim() === v);
    await fc.assert(
      fc.asyncProperty(headerValue, headerValue, headerValue, async (rid, idem, auth) => {
        const res = await h.call('/v1/videos', {
          method: 'POST',
          headers: { 'x-request-id': rid, 'idempotency-key': idem, authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'p', seconds: 'bad' }),
        });
        expectContract4xx(res, [400, 401]);
        const id = res.headers.get('x-request-id')!;
        if (/^[A-Za-z0-9._:-]{1,128}$/.test(rid)) expect(id).toBe(rid);
        else expect(id).toMatch(/^req_[0-9a-f]{24}$/);
      }),
      { numRuns: 200, seed: 23 },
    );
  });
});

describe('idempotency under hostile bodies', () => {
  it('a replayed Idempotency-Key with a body that differs only in a __proto__ key is refused, not replayed', async () => {
    const payer = await h.newKey('10.00');
    const first = await h.createJson(payer.secret, '{"prompt":"p","__proto__":{"a":1}}', { 'idempotency-key': 'proto-1', 'user-agent': 'valid-case' });
    expect(first.status).toBe(200);
    const second = await h.createJson(payer.secret, '{"prompt":"p","__proto__":{"a":2}}', { 'idempotency-key': 'proto-1', 'user-agent': 'valid-case' });
    cases++;
    expect(second.status).toBe(409);
    expect(second.json()).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    // The same body again is a replay.
    const third = await h.createJson(payer.secret, '{"prompt":"p","__proto__":{"a":1}}', { 'idempotency-key': 'proto-1', 'user-agent': 'valid-case' });
    expect(third.status).toBe(200);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(third.json().id).toBe(first.json().id);
  });
});

describe('hand-picked malformed HTTP over raw sockets', () => {
  const auth = () => `authorization: Bearer ${victimOnServer.secret}\r\n`;
  let victimOnServer: { id: string; secret: string };
  beforeAll(async () => {
    victimOnServer = await s.newKey('10.00');
  });
  afterAll(async () => {
    expect(await s.reelay.deps.store.getKey(victimOnServer.id)).toMatchObject({ balanceMicros: 10_000_000, heldMicros: 0 });
    expect(s.reelay.deps.database.sqlite.prepare('select count(*) as n from jobs').get()).toEqual({ n: 0 });
  });

  function expectRaw4xx(r: RawResult, statuses: number[], code?: string): void {
    cases++;
    expect(statuses, r.text.slice(0, 300)).toContain(r.status);
    const err = envelope(r.body);
    expect(err, r.text.slice(0, 300)).not.toBeNull();
    if (code) expect(err!.code).toBe(code);
    expect(r.headers['x-request-id']).toMatch(/^req_/);
  }

  const post = (headers: string, body = '{"prompt":"p"}') => `POST /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}content-type: application/json\r\n${headers}\r\n${body}`;

  it.each([
    ['two different content-lengths', 'content-length: 14\r\ncontent-length: 15\r\n'],
    ['two equal content-lengths', 'content-length: 14\r\ncontent-length: 14\r\n'],
    ['a list content-length', 'content-length: 14, 14\r\n'],
    ['a negative content-length', 'content-length: -1\r\n'],
    ['a non-numeric content-length', 'content-length: 1e3\r\n'],
    ['a signed content-length', 'content-length: +14\r\n'],
    ['content-length with transfer-encoding', 'content-length: 14\r\ntransfer-encoding: chunked\r\n'],
    ['transfer-encoding gzip only', 'transfer-encoding: gzip\r\n'],
    ['transfer-encoding chunked twice', 'transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n'],
    ['transfer-encoding chunked, identity', 'transfer-encoding: chunked, identity\r\n'],
    ['a CR inside a header value', 'x-evil: a\rb\r\ncontent-length: 14\r\n'],
    ['a bare LF inside a header value', 'x-evil: a\nb: c\r\ncontent-length: 14\r\n'],
    ['a NUL inside a header value', 'x-evil: a\u0000b\r\ncontent-length: 14\r\n'],
    ['a NUL inside x-request-id', 'x-request-id: ab\u0000cd\r\ncontent-length: 14\r\n'],
    ['a space before the colon', 'x-evil : a\r\ncontent-length: 14\r\n'],
    ['an obsolete folded header', 'x-evil: a\r\n b\r\ncontent-length: 14\r\n'],
    ['a header name with a slash', 'x/evil: a\r\ncontent-length: 14\r\n'],
  ])('%s → 400 in the envelope, nothing forwarded', async (_name, headers) => {
    expectRaw4xx(await s.raw(post(headers)), [400], 'invalid_request');
  });

  it('a bad chunk size, or a chunk longer than announced, → 400', async () => {
    expectRaw4xx(await s.raw(post('transfer-encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n')), [400]);
    expectRaw4xx(await s.raw(post('transfer-encoding: chunked\r\n', '2\r\n{"prompt":"p"}\r\n0\r\n\r\n')), [400]);
  });

  it.each([
    ['one 20 KiB header', `x-big: ${'a'.repeat(20 * 1024)}\r\n`],
    ['300 headers of 100 bytes', Array.from({ length: 300 }, (_, i) => `x-h${i}: ${'b'.repeat(100)}\r\n`).join('')],
    ['a 20 KiB x-request-id', `x-request-id: ${'c'.repeat(20 * 1024)}\r\n`],
  ])('%s → 431 in the envelope', async (_name, headers) => {
    expectRaw4xx(await s.raw(`GET /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}${headers}\r\n`), [431], 'headers_too_large');
  });

  it('a 10 KB x-request-id is answered with a fresh id of reelay, neither echoed nor stored', async () => {
    const huge = 'r'.repeat(10 * 1024);
    const r = await s.raw(`GET /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}x-request-id: ${huge}\r\nconnection: close\r\n\r\n`);
    cases++;
    expect(r.status).toBe(200);
    expect(r.headers['x-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
    await s.reelay.deps.requestLog.flush();
    const row = s.reelay.deps.database.sqlite.prepare('select request_id, client_request_id from request_log where request_id = ?').get(r.headers['x-request-id']) as {
      client_request_id: string | null;
    };
    expect(row.client_request_id).toBeNull();
    // 128 safe characters are reused; 129 are not.
    const ok = 'A'.repeat(128);
    expect((await s.raw(`GET /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}x-request-id: ${ok}\r\nconnection: close\r\n\r\n`)).headers['x-request-id']).toBe(ok);
    expect((await s.raw(`GET /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}x-request-id: ${ok}A\r\nconnection: close\r\n\r\n`)).headers['x-request-id']).toMatch(/^req_/);
    // Non-ASCII bytes in the id: replaced.
    expect((await s.raw(`GET /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}x-request-id: caf\xe9\r\nconnection: close\r\n\r\n`)).headers['x-request-id']).toMatch(/^req_/);
    cases += 3;
  });

  it('oversized bodies → 413: by content-length before reading, and chunked while counting', async () => {
    expectRaw4xx(await s.raw(post('content-length: 1048577\r\n', '{')), [413], 'request_too_large');
    expectRaw4xx(await s.raw(post('content-length: 99999999999999999999\r\n', '{')), [400, 413]);
    const chunk = 'a'.repeat(64 * 1024);
    const chunked = Array.from({ length: 18 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    expectRaw4xx(await s.raw(post('transfer-encoding: chunked\r\n', chunked), { timeoutMs: 5000 }), [413], 'request_too_large');
    // Multipart has its own (configured) limit.
    const mp = `POST /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}content-type: multipart/form-data; boundary=B\r\n`;
    expectRaw4xx(await s.raw(`${mp}content-length: ${256 * 1024 + 1}\r\n\r\n--B\r\n`), [413], 'request_too_large');
    const part = `--B\r\ncontent-disposition: form-data; name="input_reference"; filename="a.png"\r\ncontent-type: image/png\r\n\r\n${'p'.repeat(300 * 1024)}\r\n--B--\r\n`;
    expectRaw4xx(await s.raw(`${mp}transfer-encoding: chunked\r\n\r\n${part.length.toString(16)}\r\n${part}\r\n0\r\n\r\n`, { timeoutMs: 5000 }), [413], 'request_too_large');
  });

  const form = (boundary: string, body: string, type = `multipart/form-data; boundary=${boundary}`) =>
    `POST /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}content-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\nconnection: close\r\n\r\n${body}`;
  const field = (b: string, name: string, value: string) => `--${b}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;

  it.each([
    ['no prompt part', () => form('B', `${field('B', 'seconds', '4')}--B--\r\n`)],
    ['no parts at all', () => form('B', '--B--\r\n')],
    ['an empty body', () => form('B', '')],
    ['no boundary parameter', () => form('B', `${field('B', 'prompt', 'p')}--B--\r\n`, 'multipart/form-data')],
    ['a boundary that never appears', () => form('B', `${field('X', 'prompt', 'p')}--X--\r\n`)],
    ['an unterminated part', () => form('B', `--B\r\ncontent-disposition: form-data; name="prompt"\r\n\r\nunterminated`)],
    ['a part without content-disposition', () => form('B', `--B\r\n\r\np\r\n--B--\r\n`)],
    ['the same field twice', () => form('B', `${field('B', 'prompt', 'p')}${field('B', 'prompt', 'q')}--B--\r\n`)],
    ['3000 copies of one field', () => form('B', `${field('B', 'prompt', 'p')}${Array.from({ length: 3000 }, () => field('B', 'seconds', '4')).join('')}--B--\r\n`)],
    ['an empty image file', () => form('B', `${field('B', 'prompt', 'p')}--B\r\ncontent-disposition: form-data; name="input_reference"; filename="a.png"\r\ncontent-type: image/png\r\n\r\n\r\n--B--\r\n`)],
    ['an image of a forbidden type', () => form('B', `${field('B', 'prompt', 'p')}--B\r\ncontent-disposition: form-data; name="input_reference"; filename="a.svg"\r\ncontent-type: image/svg+xml\r\n\r\n<svg/>\r\n--B--\r\n`)],
    ['a prompt sent as a file', () => form('B', `--B\r\ncontent-disposition: form-data; name="prompt"; filename="p.txt"\r\ncontent-type: text/plain\r\n\r\np\r\n--B--\r\n`)],
    ['seconds as NaN', () => form('B', `${field('B', 'prompt', 'p')}${field('B', 'seconds', 'NaN')}--B--\r\n`)],
    ['a pollution field', () => form('B', `${field('B', 'prompt', 'p')}${field('B', '__proto__[seconds]', '4')}${field('B', 'seconds', '-8')}--B--\r\n`)],
  ] as [string, () => string][])('multipart with %s → 400, nothing forwarded', async (_name, payload) => {
    expectRaw4xx(await s.raw(payload()), [400]);
  });

  it.each([
    ['a Host with a space', 'GET /v1/videos HTTP/1.1\r\nhost: a b\r\n'],
    ['a Host with a bracket', 'GET /v1/videos HTTP/1.1\r\nhost: [::1\r\n'],
    ['no Host on HTTP/1.1', 'GET /v1/videos HTTP/1.1\r\n'],
    ['a backslash in the path', 'GET /v1\\videos HTTP/1.1\r\nhost: x\r\n'],
    ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nhost: x\r\n'],
    ['an unknown method', 'BREW /v1/videos HTTP/1.1\r\nhost: x\r\n'],
    ['a bad version', 'GET /v1/videos HTTP/7.0\r\nhost: x\r\n'],
    ['raw non-ASCII in the path', 'GET /v1/videos/\xff\xfe HTTP/1.1\r\nhost: x\r\n'],
    ['a tab in the target', 'GET /v1/vid\teos HTTP/1.1\r\nhost: x\r\n'],
    ['a line of garbage', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n'],
  ])('%s → 400 in the envelope', async (_name, head) => {
    expectRaw4xx(await s.raw(`${head}${auth()}connection: close\r\n\r\n`), [400]);
  });

  it('a smuggling attempt (a second request hidden in a body) is either refused or answered as two plain requests', async () => {
    const hidden = `GET /admin/keys HTTP/1.1\r\nhost: x\r\n\r\n`;
    const r = await s.raw(`POST /v1/videos HTTP/1.1\r\nhost: x\r\n${auth()}content-type: application/json\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`);
    cases++;
    expect(r.status).toBe(400);
    // No admin answer was smuggled out: the only response is the 400.
    expect(r.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  it('reelay is still up and answers a valid request after all of the above', async () => {
    const res = await s.call('/v1/videos', { key: victimOnServer.secret });
    expect(res.status).toBe(200);
    expect((await s.call('/healthz')).status).toBe(200);
  });
});
