import { describe, expect, it } from 'vitest';
import { fromFormEntries, readFields } from '../../src/simulator/body.js';
import { SimError } from '../../src/simulator/errors.js';
import { parseCharacter, parseCreate, parseEdit, parseExtend, parseRemix, sniffImageType } from '../../src/simulator/params.js';
import { parseSimulatorArgs } from '../../src/simulator/cli.js';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<SimError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof SimError) return e;
    throw e;
  }
  throw new Error('expected a SimError');
}

describe('fromFormEntries', () => {
  it('nests the SDK bracket keys', () => {
    const f = new File([PNG], 'a.png', { type: 'image/png' });
    const fields = fromFormEntries([
      ['prompt', 'x'],
      ['input_reference[image_url]', 'https://e.x/a.png'],
      ['video[id]', 'video_1'],
      ['tags[]', 'a'],
      ['tags[]', 'b'],
      ['deep[a][b]', 'c'],
      ['file', f],
    ]);
    expect(fields).toEqual({
      prompt: 'x',
      input_reference: { image_url: 'https://e.x/a.png' },
      video: { id: 'video_1' },
      tags: ['a', 'b'],
      deep: { a: { b: 'c' } },
      file: f,
    });
  });
});

describe('readFields', () => {
  it('reads JSON, multipart and empty bodies', async () => {
    const json = new Request('http://x/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"hi"}' });
    expect(await readFields(json)).toEqual({ prompt: 'hi' });
    const form = new FormData();
    form.append('prompt', 'hi');
    form.append('video[id]', 'video_1');
    expect(await readFields(new Request('http://x/', { method: 'POST', body: form }))).toEqual({ prompt: 'hi', video: { id: 'video_1' } });
    expect(await readFields(new Request('http://x/', { method: 'POST' }))).toEqual({});
  });

  it('rejects malformed JSON, non-object JSON and unknown content types with 400', async () => {
    const req = (body: string, type = 'application/json') =>
      new Request('http://x/', { method: 'POST', headers: { 'content-type': type }, body });
    expect((await rejection(readFields(req('{')))).code).toBe('invalid_json');
    expect((await rejection(readFields(req('[1]')))).code).toBe('invalid_json');
    const e = await rejection(readFields(req('hi', 'text/plain')));
    expect([e.status, e.code]).toEqual([400, 'unsupported_content_type']);
  });
});

describe('parseCreate', () => {
  it('applies OpenAI defaults', async () => {
    expect(await parseCreate({ prompt: 'a cat' })).toEqual({
      prompt: 'a cat',
      model: 'sora-2',
      seconds: '4',
      size: '720x1280',
      inputReference: null,
    });
  });

  it('accepts numeric seconds from JSON and the pro sizes', async () => {
    const p = await parseCreate({ prompt: 'a', seconds: 8, size: '1792x1024', model: 'sora-2-pro' });
    expect(p).toMatchObject({ seconds: '8', size: '1792x1024', model: 'sora-2-pro' });
  });

  it.each([
    [{}, 'prompt', 'missing_required_parameter'],
    [{ prompt: '   ' }, 'prompt', 'invalid_value'],
    [{ prompt: 5 }, 'prompt', 'invalid_type'],
    [{ prompt: 'a', seconds: '5' }, 'seconds', 'invalid_value'],
    [{ prompt: 'a', size: '640x480' }, 'size', 'invalid_value'],
    [{ prompt: 'a', quality: 'hd' }, 'quality', 'unknown_parameter'],
    [{ prompt: 'a', input_reference: 'https://x' }, 'input_reference', 'invalid_type'],
    [{ prompt: 'a', input_reference: { image_url: 'ftp://x' } }, 'input_reference.image_url', 'invalid_value'],
    [{ prompt: 'a', input_reference: { image_url: 'https://x', file_id: 'f' } }, 'input_reference', 'invalid_value'],
    [{ prompt: 'a', input_reference: { url: 'https://x' } }, 'input_reference.url', 'unknown_parameter'],
  ])('rejects %j with param %s', async (fields, param, code) => {
    const e = await rejection(parseCreate(fields));
    expect(e.status).toBe(400);
    expect(e.body().error).toMatchObject({ type: 'invalid_request_error', param, code });
  });

  it('accepts image_url, data URLs and file_id references', async () => {
    expect((await parseCreate({ prompt: 'a', input_reference: { image_url: 'https://e.x/i.png' } })).inputReference).toEqual({
      type: 'image_url',
      image_url: 'https://e.x/i.png',
    });
    expect((await parseCreate({ prompt: 'a', input_reference: { image_url: 'data:image/png;base64,iVBO' } })).inputReference?.type).toBe(
      'image_url',
    );
    expect((await parseCreate({ prompt: 'a', input_reference: { file_id: 'file_1' } })).inputReference).toEqual({
      type: 'file_id',
      file_id: 'file_1',
    });
  });

  it('accepts image files by declared type or, when untyped, by sniffing; rejects other files', async () => {
    const typed = await parseCreate({ prompt: 'a', input_reference: new File([PNG], 'r.png', { type: 'image/png' }) });
    expect(typed.inputReference).toEqual({ type: 'file', filename: 'r.png', contentType: 'image/png', bytes: PNG.length });
    const untyped = await parseCreate({ prompt: 'a', input_reference: new File([PNG], 'r.bin') });
    expect(untyped.inputReference).toMatchObject({ contentType: 'image/png' });
    const gif = await rejection(parseCreate({ prompt: 'a', input_reference: new File([PNG], 'r.gif', { type: 'image/gif' }) }));
    expect(gif.param).toBe('input_reference');
    const text = await rejection(parseCreate({ prompt: 'a', input_reference: new File(['hello'], 'r.txt') }));
    expect(text.param).toBe('input_reference');
  });
});

describe('sniffImageType', () => {
  it('knows JPEG, PNG and WebP', () => {
    expect(sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffImageType(PNG)).toBe('image/png');
    expect(sniffImageType(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffImageType(new TextEncoder().encode('GIF89a'))).toBeNull();
  });
});

describe('remix / edit / extend / character params', () => {
  it('remix needs a prompt only', () => {
    expect(parseRemix({ prompt: 'again' })).toEqual({ prompt: 'again' });
  });

  it('edit takes video {id} or an uploaded video file', () => {
    expect(parseEdit({ prompt: 'p', video: { id: 'video_1' } }).video).toEqual({ id: 'video_1' });
    const file = new File([new Uint8Array(10)], 'clip.mp4', { type: 'video/mp4' });
    expect(parseEdit({ prompt: 'p', video: file }).video).toEqual({ file: { filename: 'clip.mp4', contentType: 'video/mp4', bytes: 10 } });
    expect(() => parseEdit({ prompt: 'p' })).toThrowError(/video/);
    expect(() => parseEdit({ prompt: 'p', video: new File(['x'], 'a.png', { type: 'image/png' }) })).toThrowError(/video/);
  });

  it('extend requires seconds in 4, 8, 12, 16, 20', () => {
    expect(parseExtend({ prompt: 'p', seconds: '16', video: { id: 'v' } }).seconds).toBe('16');
    expect(() => parseExtend({ prompt: 'p', video: { id: 'v' } })).toThrowError(/seconds/);
    expect(() => parseExtend({ prompt: 'p', seconds: '6', video: { id: 'v' } })).toThrowError(/seconds|Invalid value/);
  });

  it('character needs a name and an uploaded video file', () => {
    expect(parseCharacter({ name: 'Mochi', video: new File([new Uint8Array(4)], 'c.mp4', { type: 'video/mp4' }) })).toEqual({ name: 'Mochi' });
    expect(() => parseCharacter({ name: 'Mochi', video: { id: 'video_1' } })).toThrowError(/video/);
    expect(() => parseCharacter({ video: new File([new Uint8Array(4)], 'c.mp4') })).toThrowError(/name/);
  });
});

describe('parseSimulatorArgs', () => {
  it('defaults to port 8090 on 127.0.0.1', () => {
    expect(parseSimulatorArgs([])).toEqual({ port: 8090, host: '127.0.0.1' });
  });

  it('parses every flag in both spellings', () => {
    expect(
      parseSimulatorArgs(['--port', '0', '--host=0.0.0.0', '--duration-ms', '500', '--api-key=sk-test', '--content-bytes', '1024', '--queued-ms=10', '--latency-ms', '5']),
    ).toEqual({ port: 0, host: '0.0.0.0', jobDurationMs: 500, apiKey: 'sk-test', contentBytes: 1024, queuedMs: 10, latencyMs: 5 });
  });

  it('rejects unknown flags and bad numbers', () => {
    expect(() => parseSimulatorArgs(['--nope'])).toThrowError(/Unknown option/);
    expect(() => parseSimulatorArgs(['--port', 'abc'])).toThrowError(/--port/);
    expect(() => parseSimulatorArgs(['--port', '70000'])).toThrowError(/65535/);
    expect(() => parseSimulatorArgs(['--duration-ms'])).toThrowError(/needs a value/);
  });
});
