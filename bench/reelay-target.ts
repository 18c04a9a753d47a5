/**
 * reelay as the benchmarks run it: the real server (`startReelay`, as `npm start` does) with a
 * SQLite file database, auth, key lookup, billing, the request log and the reconciler all on, and
 * access logs at `info` (the parent points stdout at a file). One API key with ample credit.
 *
 * Child process: env UPSTREAM_BASE_URL, DATABASE_URL (and ARCHIVE_URL, ARCHIVE_CONCURRENCY, S3_*, AWS_*, MAX_DOWNLOADS_PER_KEY,
 * UPSTREAMS_FILE with the BENCH_UPSTREAM_KEY_* credentials it names); reports `{ port, key }` over IPC.
 */
import { loadConfig } from '../src/config.js';
import { startReelay } from '../src/server.js';
import { createKey } from '../src/keys/service.js';

const CREDIT_MICROS = 1_000_000_000 * 1_000_000; // $1e9: creates never run out in a benchmark

const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_URL: process.env.DATABASE_URL,
  UPSTREAM_BASE_URL: process.env.UPSTREAM_BASE_URL,
  UPSTREAM_API_KEY: 'sk-upstream-bench',
  ADMIN_TOKEN: 'bench-admin-token-0123456789',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  // The archive: where the parent says (bench/targets.ts puts it in the target's temp directory),
  // and the S3 settings of the archive scenarios (bench/archive.ts).
  ARCHIVE_URL: process.env.ARCHIVE_URL,
  MAX_DOWNLOADS_PER_KEY: process.env.MAX_DOWNLOADS_PER_KEY,
  ARCHIVE_CONCURRENCY: process.env.ARCHIVE_CONCURRENCY,
  S3_ENDPOINT: process.env.S3_ENDPOINT,
  S3_FORCE_PATH_STYLE: process.env.S3_FORCE_PATH_STYLE,
  AWS_REGION: process.env.AWS_REGION,
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
  // Several upstreams (the reelay-3up target): the file and the credential variables it names.
  UPSTREAMS_FILE: process.env.UPSTREAMS_FILE,
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_UPSTREAM_KEY_'))),
});
const reelay = await startReelay(config);
const { store } = reelay.deps;
const now = Date.now();
const { key, secret } = await createKey(store, { name: 'bench' }, now);
await store.appendCredit(key.id, CREDIT_MICROS, 'bench credit', { actor: 'bench', requestId: null, now });

process.send?.({ ready: true, port: reelay.port, key: secret });
const stop = () => {
  reelay.close(2000).finally(() => process.exit(0));
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
