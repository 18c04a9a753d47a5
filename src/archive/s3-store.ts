import { S3Client, GetObjectCommand, DeleteObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { lengthCheck } from './dir-store.js';
import { absoluteRangeHeader } from './range.js';
import { LengthMismatch, type ArchiveObjectStore } from './object-store.js';

/** Multipart part size: S3's minimum (5 MiB), so an upload holds little in memory. */
export const S3_PART_SIZE = 5 * 1024 * 1024;
/** Parts uploaded at once per object: memory per upload is about (queue + 1) × part size. */
export const S3_QUEUE_SIZE = 1;

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slashes ('' for none). */
  prefix: string;
  region: string | undefined;
  endpoint: string | undefined;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  partSize?: number;
  queueSize?: number;
}

/**
 * The S3-compatible store (`ARCHIVE_URL=s3://<bucket>/<prefix>`): AWS S3, MinIO, R2… Objects are
 * written with a multipart upload of small parts and a low queue, so memory stays bounded whatever
 * the size; an object becomes visible only when its upload completes. Reads ask for absolute byte
 * ranges only (see absoluteRangeHeader).
 */
export class S3Store implements ArchiveObjectStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly partSize: number;
  readonly queueSize: number;

  constructor(private readonly opts: S3StoreOptions) {
    const config: S3ClientConfig = {
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    };
    this.client = new S3Client(config);
    this.partSize = opts.partSize ?? S3_PART_SIZE;
    this.queueSize = opts.queueSize ?? S3_QUEUE_SIZE;
  }

  private keyOf(key: string): string {
    return this.opts.prefix ? `${this.opts.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable, meta: { contentType: string; length: number | null }, signal?: AbortSignal): Promise<number> {
    const counted = { bytes: 0 };
    const checked = body.pipe(lengthCheck(meta.length, counted));
    let failure: unknown;
    body.once('error', (err) => checked.destroy(err));
    checked.once('error', (err) => (failure ??= err));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.opts.bucket, Key: this.keyOf(key), Body: checked, ContentType: meta.contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      throw failure ?? err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (failure || (meta.length !== null && counted.bytes !== meta.length)) {
      // The stream ended early without an error the upload saw: the object is wrong, remove it.
      await this.delete(key).catch(() => {});
      throw failure ?? new LengthMismatch(meta.length!, counted.bytes);
    }
    return counted.bytes;
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.keyOf(key), ...(range ? { Range: absoluteRangeHeader(range.start, range.end) } : {}) }),
      );
      return res.Body as Readable;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.keyOf(key) }));
  }
}
