import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openMigratedDatabase } from '../../src/db/client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey, type CreateKeyInput } from '../../src/keys/service.js';
import { parseUsd } from '../../src/money.js';
import type { PollTiming } from '../../src/billing/settlement.js';
import type { BuildOptions } from '../../src/server.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export { TestClock } from './clock.js';

export interface HarnessOptions {
  upstreamUrl: string;
  upstreamKey?: string;
  now?: () => number;
  env?: Record<string, string>;
  pollTiming?: Partial<PollTiming>;
  /** Webhook delivery options (short retry delays for tests); the worker is not started: call deps.webhooks.runDue(). */
  webhooks?: BuildOptions['webhooks'];
}

/**
 * The app as integration tests drive it: an in-memory SQLite migrated by the real migrations, a
 * real upstream URL (simulator or recording fake), `app.request()` for calls.
 */
export function buildHarness(opts: HarnessOptions) {
  const config = loadConfig({
    ADMIN_TOKEN,
    UPSTREAM_BASE_URL: opts.upstreamUrl,
    UPSTREAM_API_KEY: opts.upstreamKey ?? 'sk-upstream-secret-0001',
    DATABASE_URL: ':memory:',
    ...opts.env,
  });
  const database = openMigratedDatabase(':memory:');
  const deps = buildDeps(config, { database, logger: silentLogger(), now: opts.now, pollTiming: opts.pollTiming, webhooks: opts.webhooks });
  const app = createApp(deps);

  const newKey = async (creditUsd = '100.00', input: Partial<CreateKeyInput> = {}) => {
    const now = deps.now();
    const { key, secret } = await createKey(deps.store, { name: input.name ?? 'test key', ...input }, now);
    const credit = parseUsd(creditUsd);
    if (credit > 0) await deps.store.appendCredit(key.id, credit, 'test credit', { actor: 'test', requestId: null, now });
    return { id: key.id, secret };
  };

  const call = (path: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    return app.request(path, { ...init, headers });
  };

  const createJson = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call('/v1/videos', { method: 'POST', key, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  const admin = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
    if (init.body) headers.set('content-type', 'application/json');
    return app.request(path, { ...init, headers });
  };

  return { config, deps, app, database, newKey, call, createJson, admin, close: () => database.close() };
}

export type Harness = ReturnType<typeof buildHarness>;

/**
 * The hono env of a request arriving from `address`, as the Node adapter passes it (the socket's
 * peer address, and the headers Node parsed): for tests of per-address behaviour via app.request().
 */
export function fromAddress(address: string, headers: HeadersInit = {}) {
  return { incoming: { socket: { remoteAddress: address }, headers: Object.fromEntries(new Headers(headers)) } } as never;
}
