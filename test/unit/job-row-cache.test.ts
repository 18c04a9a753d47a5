import { describe, expect, it } from 'vitest';
import { JobRowCache, JOB_ROW_CACHE_MS } from '../../src/db/job-row-cache.js';
import type { JobRow } from '../../src/db/billing-store.js';

const row = (id: string, videoId: string | null): JobRow => ({ id, videoId, keyId: 'key_1', status: 'in_progress' }) as JobRow;

describe('JobRowCache', () => {
  it('serves a row for JOB_ROW_CACHE_MS after it was stored, then reads again', () => {
    let t = 0;
    const cache = new JobRowCache(() => t);
    const r = row('job_1', 'video_1');
    cache.set(r);
    t = JOB_ROW_CACHE_MS - 1;
    expect(cache.get('key_1', 'video_1')).toBe(r);
    t = JOB_ROW_CACHE_MS;
    expect(cache.get('key_1', 'video_1')).toBeUndefined();
  });

  it('forgets a row by its job id, leaving the others', () => {
    const cache = new JobRowCache(() => 0);
    cache.set(row('job_1', 'video_1'));
    cache.set(row('job_2', 'video_2'));
    cache.forget('job_1');
    expect(cache.get('key_1', 'video_1')).toBeUndefined();
    expect(cache.get('key_1', 'video_2')?.id).toBe('job_2');
    cache.forget('job_unknown'); // a write to a job that was never read: nothing to drop
    expect(cache.get('key_1', 'video_2')?.id).toBe('job_2');
  });

  it('does not keep rows without a video id (creates not yet accepted upstream)', () => {
    const cache = new JobRowCache(() => 0);
    cache.set(row('job_1', null));
    cache.forget('job_1');
    expect(cache.get('key_1', 'null')).toBeUndefined();
  });

  it('keeps rows per key: the same video id of another key is another row', () => {
    const cache = new JobRowCache(() => 0);
    cache.set(row('job_1', 'video_1'));
    expect(cache.get('key_2', 'video_1')).toBeUndefined();
    expect(cache.get('key_1', 'video_1')?.id).toBe('job_1');
  });

  it('stays bounded: starts over once it holds 1000 rows', () => {
    const cache = new JobRowCache(() => 0);
    for (let i = 0; i < 1000; i++) cache.set(row(`job_${i}`, `video_${i}`));
    expect(cache.get('key_1', 'video_999')?.id).toBe('job_999');
    cache.set(row('job_1000', 'video_1000'));
    expect(cache.get('key_1', 'video_0')).toBeUndefined();
    expect(cache.get('key_1', 'video_1000')?.id).toBe('job_1000');
  });
});
