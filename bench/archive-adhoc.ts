/**
 * Ad-hoc archive figures (not yet a scenario of npm run bench): the simulator and reelay in ONE
 * process, so RSS includes the simulator's synthetic stream. Download time of a video from the
 * upstream relay vs from the archive (median of 5), and RSS growth while archiving it (directory
 * store). Run: npx tsx bench/archive-adhoc.ts (SIZE=<bytes>, default 100 MiB).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startSimulator } from '../src/simulator/index.js';
import { startReelay } from '../src/server.js';
import { loadConfig } from '../src/config.js';
import { createKey } from '../src/keys/service.js';
import { silentLogger } from '../src/logging/logger.js';

const SIZE = Number(process.env.SIZE ?? 100 * 1024 * 1024);
const sim = await startSimulator({ jobDurationMs: 100, apiKey: 'sk-up', contentBytes: SIZE });
const dir = mkdtempSync(join(tmpdir(), 'adhoc-'));
const reelay = await startReelay(loadConfig({ PORT: '0', DATABASE_URL: join(dir, 'r.db'), UPSTREAM_BASE_URL: sim.url, UPSTREAM_API_KEY: 'sk-up', RECONCILER_INTERVAL_MS: '100', RECONCILER_MIN_POLL_MS: '100', ARCHIVE_URL: `file:${join(dir, 'a')}` }), { logger: silentLogger(), archiveWorker: false });
const { key, secret } = await createKey(reelay.deps.store, { name: 'k' }, Date.now());
await reelay.deps.store.appendCredit(key.id, 50_000_000, 't', { actor: 't', requestId: null, now: Date.now() });
const auth = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
const created = await request(`${reelay.url}/v1/videos`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'x', seconds: '4' }) });
const { id } = (await created.body.json()) as { id: string };
for (;;) { const r = await request(`${reelay.url}/v1/videos/${id}`, { headers: auth }); const v = (await r.body.json()) as { status: string }; if (v.status === 'completed') break; await new Promise((r) => setTimeout(r, 100)); }
async function dl(): Promise<{ ms: number; hit: string | undefined }> {
  const t = performance.now();
  const r = await request(`${reelay.url}/v1/videos/${id}/content`, { headers: auth });
  let n = 0; for await (const c of r.body) n += (c as Buffer).length;
  if (n !== SIZE) throw new Error('size');
  return { ms: performance.now() - t, hit: r.headers['x-reelay-archive'] as string | undefined };
}
const relay: number[] = []; for (let i = 0; i < 5; i++) relay.push((await dl()).ms);
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
const t0 = performance.now();
reelay.archiveWorker!.start();
while ((await reelay.deps.store.getArchiveTask((await reelay.deps.store.getJobByVideoId(id))!.id))?.state !== 'archived') await new Promise((r) => setTimeout(r, 50));
const archiveMs = performance.now() - t0;
clearInterval(timer);
const archive: number[] = []; for (let i = 0; i < 5; i++) { const d = await dl(); if (d.hit !== 'hit') throw new Error('no hit'); archive.push(d.ms); }
const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(JSON.stringify({ sizeMB: SIZE / 2 ** 20, relayMedianMs: Math.round(med(relay)), archiveMedianMs: Math.round(med(archive)), ratio: +(med(archive) / med(relay)).toFixed(2), archiveCopyMs: Math.round(archiveMs), rssGrowthWhileArchivingMB: +((peak - rss0) / 2 ** 20).toFixed(1), note: 'in-process (simulator + reelay in one process)' }));
await reelay.close(500); await sim.close(); process.exit(0);
