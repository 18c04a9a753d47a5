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
});
