/**
 * Webhook benchmarks (contract §12), in one process on a temporary SQLite file:
 *  1. settlement throughput with webhooks on (the key has a URL: the event row is written in the
 *     settling transaction) vs off, interleaved rounds in one run, and the ratio (target ≥ 0.9×);
 *  2. delivery of 1,000 events to a local endpoint by the delivery worker: events/s and memory.
 * Run alone with `npx tsx bench/webhooks.ts [--jobs N]`; `npm run bench` runs it after its scenarios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { openMigratedDatabase } from '../src/db/client.js';
import { createStore } from '../src/db/store.js';
import { newId } from '../src/ids.js';
import { silentLogger } from '../src/logging/logger.js';
import { WebhookWorker } from '../src/webhooks/worker.js';
import type { Store } from '../src/store/store.js';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const JOBS = arg('--jobs', 2000);
const ROUNDS = arg('--rounds', 8);
const EVENTS = arg('--events', 1000);
const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function key(store: Store, webhookUrl: string | null) {
  const id = newId('key');
  await store.createKey(
    { id, name: id, prefix: 'sk-bench', hash: `hash-${id}`, createdAt: Date.now(), expiresAt: null, allowedModels: null, rpmLimit: null, maxInflightJobs: null, webhookUrl },
    { who: { actor: 'bench', requestId: null, now: Date.now() }, credit: { micros: 1_000_000_000_000, note: 'bench' }, webhookSecret: { id: newId('whs'), secret: `whsec_${Buffer.alloc(32, 3).toString('base64')}` } },
  );
  return id;
}

async function openJobs(store: Store, keyId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = newId('job');
    const who = { actor: 'bench', requestId: null, now: Date.now() };
    const r = await store.placeHold({ id, keyId, kind: 'create', model: 'sora-2', size: '720x1280', requestedSeconds: 4, sourceVideoId: null, rateMicros: 100_000, flatPriceMicros: null, heldMicros: 400_000, requestId: newId('req') }, who, { maxInflightJobs: null });
    if (!r.ok) throw new Error('hold refused');
    await store.recordSubmitted(id, { videoId: `video_${id}`, status: 'queued', progress: 0, upstreamRequestId: null, nextPollAt: Date.now() }, Date.now());
    ids.push(id);
  }
  return ids;
}

/** Settles the jobs one after another (as the reconciler and polls do); returns settlements per second. */
async function settleAll(store: Store, ids: string[]): Promise<number> {
  const t = performance.now();
  for (const id of ids) {
    await store.settleJob(id, { kind: 'completed', billedSeconds: 4, finalObject: '{}', completedAt: Date.now() }, { actor: 'bench', requestId: null, now: Date.now() });
  }
  return ids.length / ((performance.now() - t) / 1000);
}

async function main() {
  const dir = mkdtempSync(join(os.tmpdir(), 'reelay-bench-webhooks-'));
  const database = openMigratedDatabase(join(dir, 'bench.db'));
  const store = createStore(database);
  const load0 = os.loadavg()[0]!;
  const lines: string[] = [];
  try {
    // 1. settlement throughput, webhooks off vs on, interleaved
    const off = await key(store, null);
    const on = await key(store, 'http://127.0.0.1:9/unused');
    const rates: { off: number[]; on: number[] } = { off: [], on: [] };
    await settleAll(store, await openJobs(store, off, 200)); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const which of r % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const ids = await openJobs(store, which === 'on' ? on : off, JOBS);
        rates[which].push(await settleAll(store, ids));
      }
    }
    const offRate = median(rates.off);
    const onRate = median(rates.on);
    lines.push(
      `settlement throughput (SQLite, synchronous=FULL, ${JOBS} settlements × ${ROUNDS} interleaved rounds, medians): webhooks off ${offRate.toFixed(0)}/s, on ${onRate.toFixed(0)}/s, ratio ${(onRate / offRate).toFixed(2)}× (target ≥ 0.90×) [rounds off: ${rates.off.map((x) => x.toFixed(0)).join(', ')}; on: ${rates.on.map((x) => x.toFixed(0)).join(', ')}]`,
    );

    // 2. delivery of EVENTS events to a local endpoint
    database.sqlite.exec("update webhook_events set status = 'delivered', next_attempt_at = null");
    let received = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const target = await key(store, url);
    await settleAll(store, await openJobs(store, target, EVENTS));
    await store.heartbeat({ id: 'bench', host: 'bench', pid: process.pid, version: '0', startedAt: Date.now() }, Date.now());
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0;
    let peakHeap = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 20);
    const worker = new WebhookWorker({ store, logger: silentLogger(), now: Date.now, instanceId: 'bench', instanceTimeoutMs: 30_000, allowPrivate: true });
    const t = performance.now();
    const delivered = await worker.runDue();
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    server.close();
    lines.push(
      `delivery of ${delivered} events to a local endpoint (one worker, concurrency 16, each attempt resolving, checking and connecting afresh): ${(delivered / seconds).toFixed(0)} events/s (${seconds.toFixed(2)} s; ${received} received); RSS ${mb(rss0)} → peak ${mb(peakRss)} MB, heap peak ${mb(peakHeap)} MB`,
    );
  } finally {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const load1 = os.loadavg()[0]!;
  lines.push(`machine: ${os.cpus().length} cores, 1-min load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after${Math.max(load0, load1) > 0.7 ? ' — other work was running: the figures were disturbed' : ''}`);
  process.stdout.write(`\n## Webhooks\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
