import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { parseRequestBody, type FilePart } from '../../src/videos/request-body.js';
import { ApiError } from '../../src/errors.js';
import { sniffImageType } from '../../src/videos/image-type.js';

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IHDR rest of a png \r\n--B not a boundary')]);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('JFIF…')]);
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 …')]);

interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
  /** The part's Content-Type line; omitted when undefined. */
  type?: string;
  extraHeaders?: string[];
}

function multipart(parts: Part[], boundary = 'XyZ-boundary-1'): { raw: Buffer; contentType: string } {
  const pieces: Buffer[] = [];
  for (const p of parts) {
    const headers = [`Content-Disposition: form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`];
    if (p.type !== undefined) headers.push(`Content-Type: ${p.type}`);
    headers.push(...(p.extraHeaders ?? []));
    pieces.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { raw: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function refusal(raw: Buffer | string, contentType: string): Promise<ApiError> {
  try {
    await parseRequestBody(Buffer.from(raw), contentType);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('the body was accepted');
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The header block of the part whose disposition names `name`, in a forwarded body. */
function partHeaders(raw: Buffer, name: string): string {
  const text = raw.toString('latin1');
  const at = text.indexOf(`name="${name}"`);
  const start = text.lastIndexOf('\r\n', at) + 2;
  return text.slice(start, text.indexOf('\r\n\r\n', at));
}

describe('ambiguous JSON bodies are refused', () => {
  it.each([
    ['{"prompt":"p","model":"sora-2-pro","model":"sora-2"}', 'model'],
    ['{"prompt":"p","input_reference":{"file_id":"file_a","file_id":"file_b"}}', 'input_reference.file_id'],
    ['{"prompt":"p","video":{"id":"video_mine","id":"video_theirs"}}', 'video.id'],
    ['{"prompt":"p","seconds":"4","s\\u0065conds":"12"}', 'seconds'],
  ])('%s → 400 invalid_request, param %s', async (body, param) => {
    const err = await refusal(body, 'application/json');
    expect(err).toMatchObject({ code: 'invalid_request', status: 400, param });
  });

  it.each([5_000, 100_000])('a prompt nested %i deep → 400 invalid_request naming it, not a stack overflow', async (depth) => {
    for (const nested of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)]) {
      const err = await refusal(`{"prompt":${nested}}`, 'application/json');
      expect(err).toMatchObject({ code: 'invalid_request', status: 400, param: 'prompt' });
      expect(err.message).toMatch(/nested deeper than 64/);
    }
  });

  it('64 levels are still read', async () => {
    const body = await parseRequestBody(Buffer.from(`{"prompt":${'['.repeat(63)}${']'.repeat(63)}}`), 'application/json');
    expect(body.canonical.length).toBeGreaterThan(63 * 2);
  });
});

describe('ambiguous multipart bodies are refused', () => {
  it.each([
    [[{ name: 'video[id]', value: 'video_mine' }, { name: 'video[id]', value: 'video_theirs' }], 'video[id]'],
    [[{ name: 'input_reference[image_url]', value: 'a' }, { name: 'input_reference[image_url]', value: 'b' }], 'input_reference[image_url]'],
    [[{ name: 'model', value: 'sora-2-pro' }, { name: 'model', value: 'sora-2' }], 'model'],
    [[{ name: 'video', value: 'x' }, { name: 'video[id]', value: 'video_1' }], 'video'],
  ])('repeated %j → 400 invalid_request, param %s', async (parts, param) => {
    const { raw, contentType } = multipart([{ name: 'prompt', value: 'p' }, ...parts]);
    expect(await refusal(raw, contentType)).toMatchObject({ code: 'invalid_request', status: 400, param });
  });

  it.each([
    ['a part without Content-Disposition', '--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--'],
    ['a part without a name', '--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--'],
    ['a repeated part header', '--B\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\r\n--B--'],
    ['a repeated disposition parameter', '--B\r\nContent-Disposition: form-data; name="model"; name="prompt"\r\n\r\nx\r\n--B--'],
    ['a folded header', '--B\r\nContent-Disposition: form-data;\r\n name="a"\r\n\r\nx\r\n--B--'],
    ['bytes after a boundary', '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--Bjunk\r\n--B--'],
    ['no close delimiter', '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx'],
    ['a field in another charset', '--B\r\nContent-Disposition: form-data; name="seconds"\r\nContent-Type: text/plain; charset=utf-16le\r\n\r\n4\0\r\n--B--'],
    ['a transfer encoding', '--B\r\nContent-Disposition: form-data; name="seconds"\r\nContent-Transfer-Encoding: base64\r\n\r\nMTI=\r\n--B--'],
    ['a part header block over 16 KiB', `--B\r\nContent-Disposition: form-data; name="a"; filename="${'x'.repeat(16 * 1024)}"\r\n\r\nx\r\n--B--`],
    ['two boundary parameters', '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B--', 'multipart/form-data; boundary=B; boundary=C'],
  ])('%s → 400 invalid_request', async (_name, raw, contentType = 'multipart/form-data; boundary=B') => {
    expect(await refusal(raw, contentType)).toMatchObject({ code: 'invalid_request', status: 400 });
  });

  it('reads what it accepts the way the SDK and curl send it: quoted boundary, preamble, epilogue, nested fields', async () => {
    const raw = 'preamble\r\n--a b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nline1\r\nline2\r\n--a b\r\ncontent-disposition: form-data; name="input_reference[file_id]"\r\n\r\nfile_1\r\n--a b--\r\nepilogue';
    const body = await parseRequestBody(Buffer.from(raw), 'multipart/form-data; boundary="a b"');
    expect(body.fields).toEqual({ prompt: 'line1\r\nline2', input_reference: { file_id: 'file_1' } });
    expect(body.raw.toString()).toBe(raw);
  });
});

describe('multipart limits', () => {
  it('more than 100 parts → 400 invalid_request (a million tiny distinct fields are refused, not parsed)', async () => {
    const fields = Array.from({ length: 1_100_000 }, (_, i) => `--B\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nx\r\n`);
    const raw = Buffer.from(`--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\np\r\n${fields.join('')}--B--\r\n`);
    expect(raw.length).toBeGreaterThan(50 * 1024 * 1024);
    const err = await refusal(raw, 'multipart/form-data; boundary=B');
    expect(err).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(err.message).toMatch(/at most 100 parts/);
    // 100 parts are fine.
    const ok = multipart([{ name: 'prompt', value: 'p' }, ...Array.from({ length: 99 }, (_, i) => ({ name: `f${i}`, value: 'x' }))]);
    expect(Object.keys((await parseRequestBody(ok.raw, ok.contentType)).fields)).toHaveLength(100);
  });

  it('a field over 1 MiB → 400 naming it (never silently truncated)', async () => {
    const { raw, contentType } = multipart([{ name: 'prompt', value: 'x'.repeat(1024 * 1024 + 1) }]);
    expect(await refusal(raw, contentType)).toMatchObject({ code: 'invalid_request', param: 'prompt' });
  });

  it('parsing a large body gives the event loop many turns (setImmediate probe)', async () => {
    const big = Buffer.alloc(16 * 1024 * 1024, 7);
    const { raw, contentType } = multipart([{ name: 'prompt', value: 'p' }, { name: 'input_reference', value: Buffer.concat([PNG, big]), filename: 'a.png', type: 'image/png' }]);
    let turns = 0;
    let parsing = true;
    const probe = () => {
      turns++;
      if (parsing) setImmediate(probe);
    };
    setImmediate(probe);
    const body = await parseRequestBody(raw, contentType);
    parsing = false;
    // One turn per chunk read: a synchronous parse of the whole body would allow one or two.
    expect(turns).toBeGreaterThanOrEqual(16);
    expect((body.fields['input_reference'] as FilePart).sha256).toBe(sha256(Buffer.concat([PNG, big])));
  });
});

describe('file parts', () => {
  it('are hashed and sized; the canonical form does not depend on the boundary', async () => {
    const parts = [{ name: 'prompt', value: 'p' }, { name: 'input_reference', value: PNG, filename: 'a.png', type: 'image/png' }];
    const one = await parseRequestBody(multipart(parts, 'one').raw, multipart(parts, 'one').contentType);
    const two = await parseRequestBody(multipart(parts, '----other-7').raw, multipart(parts, '----other-7').contentType);
    expect(one.fields['input_reference']).toEqual({ kind: 'file', name: 'a.png', type: 'image/png', size: PNG.length, sha256: sha256(PNG) });
    expect(one.canonical).toBe(two.canonical);
    expect(one.raw.equals(two.raw)).toBe(false);
  });

  it.each([
    ['application/octet-stream', 'PNG', PNG, 'image/png'],
    ['application/octet-stream', 'JPEG', JPEG, 'image/jpeg'],
    ['application/octet-stream', 'WebP', WEBP, 'image/webp'],
    ['Application/Octet-Stream; x=1', 'PNG', PNG, 'image/png'],
    [undefined, 'PNG', PNG, 'image/png'],
    [undefined, 'WebP', WEBP, 'image/webp'],
  ])('sent as %s with %s bytes → read and forwarded as %s, its bytes untouched', async (declared, _label, bytes, detected) => {
    const sent = multipart([
      { name: 'prompt', value: 'p' },
      { name: 'input_reference', value: bytes, filename: 'upload.bin', ...(declared === undefined ? {} : { type: declared }) },
      { name: 'seconds', value: '8' },
    ]);
    const body = await parseRequestBody(sent.raw, sent.contentType);
    expect(body.fields['input_reference']).toMatchObject({ type: detected, size: bytes.length, sha256: sha256(bytes) });
    expect(body.contentType).toBe(sent.contentType);
    // The forwarded body is the one sent with that part's Content-Type line set to the detected type.
    const expected = multipart([
      { name: 'prompt', value: 'p' },
      { name: 'input_reference', value: bytes, filename: 'upload.bin', type: detected },
      { name: 'seconds', value: '8' },
    ]);
    expect(body.raw.equals(expected.raw)).toBe(true);
    expect(partHeaders(body.raw, 'input_reference')).toBe(`Content-Disposition: form-data; name="input_reference"; filename="upload.bin"\r\nContent-Type: ${detected}`);
    // And what is forwarded reads back the same.
    const again = await parseRequestBody(body.raw, body.contentType);
    expect(again.fields).toEqual(body.fields);
    expect(again.raw.equals(body.raw)).toBe(true);
  });

  it('a part that declares an image type is forwarded as declared, whatever its bytes', async () => {
    const sent = multipart([{ name: 'prompt', value: 'p' }, { name: 'input_reference', value: PNG, filename: 'a.jpg', type: 'image/jpeg' }]);
    const body = await parseRequestBody(sent.raw, sent.contentType);
    expect((body.fields['input_reference'] as FilePart).type).toBe('image/jpeg');
    expect(body.raw).toBe(sent.raw);
  });

  it('octet-stream that is not an image stays octet-stream (the file name does not count)', async () => {
    const sent = multipart([{ name: 'prompt', value: 'p' }, { name: 'input_reference', value: 'GIF89a…', filename: 'x.png', type: 'application/octet-stream' }]);
    const body = await parseRequestBody(sent.raw, sent.contentType);
    expect((body.fields['input_reference'] as FilePart).type).toBe('application/octet-stream');
    expect(body.raw).toBe(sent.raw);
  });
});

describe('sniffImageType', () => {
  it.each([
    ['PNG', PNG, 'image/png'],
    ['JPEG', JPEG, 'image/jpeg'],
    ['WebP', WEBP, 'image/webp'],
    ['a WAV (RIFF but not WEBP)', Buffer.from('RIFF\0\0\0\0WAVEfmt '), null],
    ['half a PNG signature', Buffer.from([0x89, 0x50, 0x4e, 0x47]), null],
    ['two JPEG bytes', Buffer.from([0xff, 0xd8]), null],
    ['a GIF', Buffer.from('GIF89a'), null],
    ['nothing', Buffer.alloc(0), null],
  ])('%s → %s', (_label, bytes, type) => {
    expect(sniffImageType(bytes)).toBe(type);
  });
});
