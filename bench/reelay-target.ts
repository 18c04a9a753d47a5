/**
 * reelay as the benchmarks run it: the real server (`startReelay`, as `npm start` does) with a
 * SQLite file database, auth, key lookup, billing, the request log and the reconciler all on, and
 * access logs at `info` (the parent points stdout at a file). One API key with ample credit.
 *
 * Child process: env UPSTREAM_BASE_URL, DATABASE_URL; reports `{ port, key }` over IPC.
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
