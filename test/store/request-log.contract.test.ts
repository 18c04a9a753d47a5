import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { DAY0, DAY1, DAY2, REQUESTS, requestRow } from './report-dataset.js';

/** The request log's units, on both engines through the Store interface. */

describe.each(engines)('$name: request log', (engine) => {
  let o: OpenStore;
  beforeEach(async () => {
    o = await engine.open();
    await o.store.insertRequestLogBatch(REQUESTS);
  });
  afterEach(() => o.close());

  const seqs = (rows: { seq: number }[]) => rows.map((r) => r.seq);

  it('insertRequestLogBatch: every row, with defaults, the database numbering them; an empty batch is a no-op', async () => {
    await o.store.insertRequestLogBatch([]);
    const all = await o.store.searchRequestLog({ limit: 100 });
    expect(all).toEqual(REQUESTS.map((_, i) => requestRow(i + 1)).reverse());
    // More than 2^31 bytes out comes back as the same number.
    expect(all[0]!.bytesOut).toBe(3_000_000_000);
    // A seq given by the caller is not used.
    await o.store.insertRequestLogBatch([{ seq: 1, requestId: 'req_new', method: 'GET', route: '/v1/models', status: 200, durationMs: 1, createdAt: DAY2 + 1 }]);
    expect(await o.store.searchRequestLog({ requestId: 'req_new', limit: 10 })).toEqual([
      { seq: 11, requestId: 'req_new', clientRequestId: null, upstreamRequestId: null, keyId: null, method: 'GET', route: '/v1/models', videoId: null, upstreamId: null, status: 200, errorCode: null, durationMs: 1, upstreamDurationMs: null, bytesIn: 0, bytesOut: 0, createdAt: DAY2 + 1 },
    ]);
  });

  it('insertRequestLogBatch: a large batch in one call', async () => {
    const rows = Array.from({ length: 2_500 }, (_, i) => ({ requestId: `bulk_${i}`, keyId: 'key_bulk', method: 'GET', route: '/v1/videos', status: 200, durationMs: i, createdAt: DAY2 + i }));
    await o.store.insertRequestLogBatch(rows);
    const page = await o.store.searchRequestLog({ keyId: 'key_bulk', limit: 3 });
    expect(page.map((r) => [r.seq, r.requestId])).toEqual([
      [2_510, 'bulk_2499'],
      [2_509, 'bulk_2498'],
      [2_508, 'bulk_2497'],
    ]);
  });

  it('searchRequestLog: requestId matches reelay\'s, the client\'s or the upstream\'s id', async () => {
    expect(seqs(await o.store.searchRequestLog({ requestId: 'req_a1', limit: 10 }))).toEqual([1]);
    expect(seqs(await o.store.searchRequestLog({ requestId: 'client_2', limit: 10 }))).toEqual([4]);
    expect(seqs(await o.store.searchRequestLog({ requestId: 'up_a3', limit: 10 }))).toEqual([3]);
    // The video id is a filter of its own, not a request id.
    expect(seqs(await o.store.searchRequestLog({ requestId: 'video_a1', limit: 10 }))).toEqual([]);
    // An empty requestId / videoId / keyId is no filter (as on SQLite).
    expect(seqs(await o.store.searchRequestLog({ requestId: '', videoId: '', keyId: '', limit: 3 }))).toEqual([10, 9, 8]);
  });

  it('searchRequestLog: video, key, [from, to) and their combination; newest first', async () => {
    expect(seqs(await o.store.searchRequestLog({ videoId: 'video_a1', limit: 10 }))).toEqual([8, 4, 1]);
    expect(seqs(await o.store.searchRequestLog({ keyId: 'key_B', limit: 10 }))).toEqual([7, 6, 5]);
    expect(seqs(await o.store.searchRequestLog({ from: DAY0, to: DAY1, limit: 10 }))).toEqual([5, 4, 3, 2]);
    expect(seqs(await o.store.searchRequestLog({ keyId: 'key_a', from: DAY0 - 1, to: DAY0 + 1, limit: 10 }))).toEqual([3, 2, 1]);
    expect(seqs(await o.store.searchRequestLog({ keyId: 'key_a', videoId: 'video_a1', from: DAY0, limit: 10 }))).toEqual([8, 4]);
  });

  it('searchRequestLog: pages by beforeSeq', async () => {
    const pages: number[][] = [];
    let beforeSeq: number | undefined;
    for (;;) {
      const page = seqs(await o.store.searchRequestLog({ beforeSeq, limit: 4 }));
      pages.push(page);
      if (page.length < 4) break;
      beforeSeq = page.at(-1);
    }
    expect(pages).toEqual([[10, 9, 8, 7], [6, 5, 4, 3], [2, 1]]);
    expect(seqs(await o.store.searchRequestLog({ keyId: 'key_a', beforeSeq: 4, limit: 10 }))).toEqual([3, 2, 1]);
  });

  it('deleteRequestLogBefore: oldest first, at most `limit`, returns how many went', async () => {
    expect(await o.store.deleteRequestLogBefore(DAY0 - 1, 10)).toBe(0);
    expect(await o.store.deleteRequestLogBefore(DAY0, 10)).toBe(1);
    // Seq 2 and 3 share created_at DAY0: both go before seq 4.
    expect(await o.store.deleteRequestLogBefore(DAY1, 2)).toBe(2);
    expect(seqs(await o.store.searchRequestLog({ limit: 100 }))).toEqual([10, 9, 8, 7, 6, 5, 4]);
    expect(await o.store.deleteRequestLogBefore(DAY1, 100)).toBe(2);
    expect(await o.store.deleteRequestLogBefore(DAY1, 100)).toBe(0);
    expect(seqs(await o.store.searchRequestLog({ limit: 100 }))).toEqual([10, 9, 8, 7, 6]);
    expect(await o.store.deleteRequestLogBefore(DAY2 + 1, 0)).toBe(0);
  });
});
