import { describe, expect, it } from 'vitest';
import { absoluteRangeHeader } from '../../src/archive/range.js';
import { parseByteRange } from '../../src/http/byte-range.js';
import { archiveKey } from '../../src/archive/object-store.js';
import { parseArchiveUrl } from '../../src/config.js';

const s3 = { region: undefined, endpoint: undefined, forcePathStyle: false, credentials: undefined };

describe('archive ranges', () => {
  it('reads single ranges, open ranges and suffix ranges against the size', () => {
    expect(parseByteRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseByteRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseByteRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseByteRange('bytes=90-1000', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseByteRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseByteRange('bytes=-1000', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
  });

  it('answers unsatisfiable past the end, for an empty suffix and for an empty object', () => {
    expect(parseByteRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseByteRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseByteRange('bytes=-5', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores what it does not understand: several ranges, other units, reversed ranges', () => {
    expect(parseByteRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseByteRange('items=0-1', 100)).toEqual({ kind: 'full' });
    expect(parseByteRange('bytes=9-1', 100)).toEqual({ kind: 'full' });
    expect(parseByteRange('bytes=-', 100)).toEqual({ kind: 'full' });
  });

  it('asks an object store for absolute ranges only (a suffix range becomes start-end), refusing nonsense', () => {
    const r = parseByteRange('bytes=-10', 100);
    expect(r.kind === 'partial' && absoluteRangeHeader(r.start, r.end)).toBe('bytes=90-99');
    expect(() => absoluteRangeHeader(5, 4)).toThrow();
    expect(() => absoluteRangeHeader(-1, 4)).toThrow();
  });
});

describe('archive keys and ARCHIVE_URL', () => {
  it('derives keys from the job id and variant only', () => {
    expect(archiveKey('job_abc123', 'video')).toBe('job_abc123/video');
    expect(() => archiveKey('../etc', 'video')).toThrow();
    expect(() => archiveKey('a/b', 'video')).toThrow();
  });

  it('reads off, file: and s3:// URLs', () => {
    expect(parseArchiveUrl('off', s3)).toEqual({ kind: 'off' });
    expect(parseArchiveUrl('file:./data/archive', s3)).toEqual({ kind: 'file', dir: './data/archive' });
    expect(parseArchiveUrl('/var/lib/reelay', s3)).toEqual({ kind: 'file', dir: '/var/lib/reelay' });
    expect(parseArchiveUrl('s3://my-bucket/videos/prod/', s3)).toMatchObject({ kind: 's3', bucket: 'my-bucket', prefix: 'videos/prod' });
    expect(parseArchiveUrl('s3://my-bucket', s3)).toMatchObject({ kind: 's3', bucket: 'my-bucket', prefix: '' });
    expect(() => parseArchiveUrl('s3://', s3)).toThrow(/ARCHIVE_URL/);
    expect(() => parseArchiveUrl('s3://b/../x', s3)).toThrow(/ARCHIVE_URL/);
    expect(() => parseArchiveUrl('http://x/y', s3)).toThrow(/ARCHIVE_URL/);
  });
});
