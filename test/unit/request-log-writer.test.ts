import { describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import { silentLogger } from '../../src/logging/logger.js';
import { REQUEST_LOG_BATCH_ROWS, RequestLogWriter } from '../../src/logging/request-log-writer.js';
import type { RequestLogRow } from '../../src/db/request-log-store.js';

const row = (i: number): RequestLogRow => ({
  requestId: `req_batch_${i}`,
  method: 'GET',
  route: '/v1/videos/video_1',
  videoId: 'video_1',
  status: 200,
  durationMs: 1,
  createdAt: 1_700_000_000_000 + i,
});

describe('request-log writer', () => {
  it('writes a batch as soon as 1000 rows wait, without waiting for its timer', async () => {
    const store = createStore(openMigratedDatabase(':memory:'));
    // The timer is never started here: only the queue's size can trigger these writes.
    const writer = new RequestLogWriter(store, silentLogger());
    const stored = async () => (await store.searchRequestLog({ videoId: 'video_1', limit: 5000 })).length;

    expect(REQUEST_LOG_BATCH_ROWS).toBe(1000);
    for (let i = 0; i < 999; i++) writer.push(row(i));
    expect(await stored()).toBe(0);
    writer.push(row(999));
    expect(await stored()).toBe(1000);

    for (let i = 1000; i < 1999; i++) writer.push(row(i));
    expect(await stored()).toBe(1000);
    await writer.stop();
    expect(await stored()).toBe(1999);
  });

  it('stop() waits for a write already in flight, so the store is not closed under it', async () => {
    const store = createStore(openMigratedDatabase(':memory:'));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const events: string[] = [];
    const slowStore = {
      ...store,
      insertRequestLogBatch: async (rows: RequestLogRow[]) => {
        events.push(`write ${rows.length} started`);
        await gate;
        await store.insertRequestLogBatch(rows);
        events.push(`write ${rows.length} ended`);
      },
    } as typeof store;
    const writer = new RequestLogWriter(slowStore, silentLogger());
    for (let i = 0; i < 7; i++) writer.push(row(i));
    const timerFlush = writer.flush(); // as the interval timer would, just before shutdown
    writer.push(row(7));
    const stopped = writer.stop().then(() => events.push('stopped'));
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(['write 7 started']);
    release();
    await Promise.all([timerFlush, stopped]);
    expect(events).toEqual(['write 7 started', 'write 7 ended', 'write 1 started', 'write 1 ended', 'stopped']);
    expect((await store.searchRequestLog({ videoId: 'video_1', limit: 100 })).length).toBe(8);
  });
});
