import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReelayProcess, freePort } from './child.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import { createKey } from '../../src/keys/service.js';
import { envelope } from './support.js';
import { head, upload } from './upload-client.js';

/**
 * Uploads a key cannot pay for cost the server no memory: reelay (a child process, as `npm start`
 * runs it) refuses them before reading, and drops the bodies as they arrive. Measured as the growth
 * of the child's peak resident memory (VmHWM) while 8 × 60 MB multipart uploads from a $0 key run
 * at once; buffering them, as reelay did before, took it up by more than their total (~480 MB).
 */
const UPLOADS = 8;
const BODY = 60 * 1024 * 1024;

let dir: string;
let reelay: ReelayProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-mem-'));
  // Nothing is forwarded: the upstream address is never called.
  reelay = new ReelayProcess(await freePort(), join(dir, 'reelay.db'), 'http://127.0.0.1:9/v1', { LOG_LEVEL: 'warn', RECONCILER_INTERVAL_MS: '60000' });
  await reelay.start();
}, 60_000);

afterAll(async () => {
  await reelay.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** The child's peak resident set size so far, in bytes (Linux /proc). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('memory under concurrent uploads from a key that cannot pay', () => {
  it(`${UPLOADS} concurrent 60 MB multipart uploads from a $0 key: all 429, and the server's peak RSS grows far less than their total`, { timeout: 120_000 }, async () => {
    const database = openMigratedDatabase(reelay.dbPath);
    const { secret } = await createKey(createStore(database), { name: 'broke' }, Date.now());
    database.close();
    const request = head('POST', '/v1/videos', {
      authorization: `Bearer ${secret}`,
      'content-type': 'multipart/form-data; boundary=----reelay',
      'content-length': BODY,
    });
    // Warm up (first requests load code and fill caches), then take the baseline.
    for (let i = 0; i < 3; i++) await upload(reelay.port, { head: request, bodyBytes: 1024 * 1024 });
    const pid = reelay.proc!.pid!;
    const before = peakRss(pid);

    const results = await Promise.all(Array.from({ length: UPLOADS }, () => upload(reelay.port, { head: request, bodyBytes: BODY, giveUpMs: 90_000 })));
    const growth = peakRss(pid) - before;
    console.log(`peak RSS before ${(before / 2 ** 20).toFixed(1)} MiB, growth ${(growth / 2 ** 20).toFixed(1)} MiB for ${UPLOADS} × ${BODY / 2 ** 20} MiB uploads`);

    for (const r of results) {
      expect(r.status).toBe(429);
      expect(envelope(r.body)?.code).toBe('insufficient_quota');
      expect(r.headers['x-request-id']).toMatch(/^req_/);
      expect(r.gaveUp).toBe(false);
    }
    // Far below the bodies' total (480 MiB); a generous margin for a loaded machine's GC timing.
    expect(growth).toBeLessThan((UPLOADS * BODY) / 4);
    expect(reelay.alive).toBe(true);
  });
});
