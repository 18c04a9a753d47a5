import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import busboy from 'busboy';
import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReelay, type RunningReelay } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/service.js';
import { silentLogger } from '../../src/logging/logger.js';
import { startRecordingUpstream, type RecordedRequest } from '../helpers/recording-upstream.js';

/**
 * The official SDK's ordinary image uploads — a file stream, toFile(buffer, name), a File — send the
 * part as application/octet-stream. Through a real reelay server they are accepted, and the
 * upstream receives the part typed image/png with the very bytes the client sent.
 */
let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let reelay: RunningReelay;
let client: OpenAI;
let pngPath: string;

// A whole 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'reelay-uploads-'));
  pngPath = join(dir, 'reference.png');
  writeFileSync(pngPath, PNG);
  reelay = await startReelay(
    loadConfig({ PORT: '0', DATABASE_URL: join(dir, 'uploads.db'), UPSTREAM_BASE_URL: upstream.url, UPSTREAM_API_KEY: 'sk-upstream-uploads', ADMIN_TOKEN: 'uploads-admin-token-0123456789' }),
    { logger: silentLogger() },
  );
  const { key, secret } = await createKey(reelay.deps.store, { name: 'uploads' }, Date.now());
  await reelay.deps.store.appendCredit(key.id, 10_000_000, 'uploads', { actor: 'test', requestId: null, now: Date.now() });
  client = new OpenAI({ apiKey: secret, baseURL: `${reelay.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await reelay.close(1000);
  await upstream.close();
});

interface ReceivedPart {
  name: string;
  filename?: string;
  mimeType: string;
  bytes: Buffer;
}

/** The parts of a body the upstream received, read by an independent parser. */
async function partsOf(req: RecordedRequest): Promise<ReceivedPart[]> {
  const parts: ReceivedPart[] = [];
  await new Promise<void>((resolve, reject) => {
    const bb = busboy({ headers: { 'content-type': req.headers['content-type']! } });
    bb.on('field', (name, value, info) => parts.push({ name, mimeType: info.mimeType, bytes: Buffer.from(value) }));
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => parts.push({ name, filename: info.filename, mimeType: info.mimeType, bytes: Buffer.concat(chunks) }));
    });
    bb.on('close', resolve);
    bb.on('error', reject);
    bb.end(req.body);
  });
  return parts;
}

describe('image uploads from the openai SDK', () => {
  it.each([
    ['fs.createReadStream(png)', () => createReadStream(pngPath)],
    ["toFile(buffer, 'x.png')", () => toFile(PNG, 'x.png')],
    ["new File([buffer], 'x.png')", () => new File([PNG], 'x.png')],
  ])('%s is accepted and reaches the upstream as image/png with identical bytes', async (_form, upload) => {
    const before = upstream.requests.length;
    const video = await client.videos.create({ prompt: 'animate this', seconds: '4', input_reference: await upload() });
    expect(video.status).toBe('queued');
    expect(upstream.requests.length).toBe(before + 1);
    const sent = upstream.requests.at(-1)!;
    expect(sent.url).toBe('/v1/videos');
    const parts = await partsOf(sent);
    const reference = parts.find((p) => p.name === 'input_reference')!;
    expect(reference.mimeType).toBe('image/png');
    expect(reference.bytes.equals(PNG)).toBe(true);
    expect(parts.find((p) => p.name === 'prompt')?.bytes.toString()).toBe('animate this');
    expect(Number(sent.headers['content-length'])).toBe(sent.body.length);
  });

  it('bytes that are no image, sent the same way, are refused with 400 on input_reference and never forwarded', async () => {
    const before = upstream.requests.length;
    const err = await client.videos.create({ prompt: 'animate this', input_reference: await toFile(Buffer.from('GIF89a not accepted'), 'x.png') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input_reference');
    expect(upstream.requests.length).toBe(before);
  });
});
