import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/server.js';
import { createApp } from '../../src/app.js';
import { openMigratedDatabase, type Database_ } from '../../src/db/client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { createKey } from '../../src/keys/service.js';
import { quote, isPriceError } from '../../src/billing/catalog.js';
import { newId } from '../../src/ids.js';
import { parseUsd } from '../../src/money.js';
import type { Deps } from '../../src/deps.js';
import type { KeyRow } from '../../src/db/keys-store.js';
import type { JobRow } from '../../src/db/billing-store.js';

/** Test fixtures of the admin API tests: the app on an in-memory database, and seeding through the real store. */
export const ADMIN_TOKEN = 'test-admin-token-123456';

/** A PRICING_FILE adding a flat-priced model, so exports show both kinds of unit price. */
function pricingFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-admin-'));
  const path = join(dir, 'pricing.json');
  writeFileSync(
    path,
    JSON.stringify({ models: { 'flat-1': { seconds: [4, 8], default_seconds: 4, default_size: '720x1280', per_request_usd: '0.25', sizes: ['720x1280'] } } }),
  );
  return path;
}

export interface AdminHarness {
  deps: Deps & { database: Database_ };
  app: ReturnType<typeof createApp>;
  /** A request with the admin token (override `authorization` in headers to test auth). */
  call(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** GET with the admin token; expects 200 and returns the parsed JSON. */
  json<T = any>(path: string): Promise<T>;
  close(): Promise<void>;
}

export function adminHarness(opts: { flatModel?: boolean } = {}): AdminHarness {
  const config = loadConfig({
    ADMIN_TOKEN,
    UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1',
    DATABASE_URL: ':memory:',
    PRICING_FILE: opts.flatModel ? pricingFile() : undefined,
  });
  const deps = buildDeps(config, { database: openMigratedDatabase(':memory:'), logger: silentLogger() });
  const app = createApp(deps);
  const call: AdminHarness['call'] = (path, init = {}) =>
    Promise.resolve(
      app.request(path, {
        method: init.method ?? 'GET',
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(init.body !== undefined && { 'content-type': 'application/json' }),
          ...init.headers,
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      }),
    );
  return {
    deps,
    app,
    call,
    async json(path) {
      const res = await call(path);
      const text = await res.text();
      expect(res.status, text).toBe(200);
      return JSON.parse(text);
    },
    async close() {
      await deps.requestLog.stop();
      await deps.upstreams.close().catch(() => {});
      deps.database.close();
    },
  };
}

export async function seedKey(deps: Pick<Deps, 'store'>, name: string, credit = '100.00', now = Date.UTC(2026, 0, 1)): Promise<KeyRow> {
  const { key } = await createKey(deps.store, { name }, now);
  if (parseUsd(credit) > 0) await deps.store.appendCredit(key.id, parseUsd(credit), 'seed', { actor: 'test', requestId: null, now });
  return (await deps.store.getKey(key.id))!;
}

export type Outcome = 'completed' | 'failed' | 'rejected' | 'unknown' | 'expired' | 'open';

export interface SeedJob {
  at: number;
  outcome: Outcome;
  model?: string;
  size?: string;
  seconds?: number;
  billedSeconds?: number;
  videoId?: string;
  requestId?: string;
  upstreamRequestId?: string | null;
}

/**
 * A job through the real units of work: placeHold (at `at`), recordSubmitted (unless rejected),
 * then settleJob a minute later with the outcome (open jobs stay queued).
 */
export async function seedJob(deps: Pick<Deps, 'store' | 'catalog'>, key: KeyRow, s: SeedJob): Promise<JobRow> {
  const q = quote(deps.catalog, { model: s.model ?? 'sora-2', seconds: s.seconds, size: s.size });
  if (isPriceError(q)) throw new Error(q.message);
  const id = newId('job');
  const requestId = s.requestId ?? newId('req');
  const who = { actor: `key:${key.id}`, requestId, now: s.at };
  const hold = await deps.store.placeHold(
    {
      id,
      keyId: key.id,
      kind: 'create',
      model: q.model,
      size: q.size,
      requestedSeconds: q.seconds,
      sourceVideoId: null,
      rateMicros: q.rateMicros,
      flatPriceMicros: q.flatMicros,
      heldMicros: q.priceMicros,
      requestId,
    },
    who,
    { maxInflightJobs: null },
  );
  if (!hold.ok) throw new Error(`hold refused: ${hold.reason}`);
  const done = { ...who, now: s.at + 60_000 };
  if (s.outcome === 'rejected') {
    await deps.store.settleJob(id, { kind: 'rejected', errorCode: 'upstream_400' }, done);
    return (await deps.store.getJob(id))!;
  }
  await deps.store.recordSubmitted(
    id,
    { videoId: s.videoId ?? `video_${id.slice(4)}`, status: 'queued', progress: 0, upstreamRequestId: s.upstreamRequestId ?? `up_${id.slice(4)}`, nextPollAt: s.at + 1000 },
    s.at,
  );
  switch (s.outcome) {
    case 'completed':
      await deps.store.settleJob(id, { kind: 'completed', billedSeconds: s.billedSeconds ?? q.seconds, finalObject: '{}', completedAt: s.at + 60_000 }, done);
      break;
    case 'failed':
      await deps.store.settleJob(id, { kind: 'failed', finalObject: null, errorCode: 'content_policy' }, done);
      break;
    case 'unknown':
      await deps.store.settleJob(id, { kind: 'unknown', reason: 'upstream_timeout' }, done);
      break;
    case 'expired':
      await deps.store.settleJob(id, { kind: 'expired', reason: 'vanished' }, done);
      break;
    case 'open':
      break;
  }
  return (await deps.store.getJob(id))!;
}

/** Parses with the documented response schema, refusing any field the schema does not name. */
export function conforms<S extends z.ZodObject>(schema: S, value: unknown): z.output<S> {
  return schema.strict().parse(value) as z.output<S>;
}

/**
 * Walks a list endpoint page by page (`limit` per page) and returns every item, asserting that
 * has_more is true exactly on the pages that are followed by another.
 */
export async function allPages<T extends { id: string }>(h: AdminHarness, path: string, limit: number): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await h.json<{ data: T[]; has_more: boolean }>(`${path}${sep}limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    pages++;
    items.push(...page.data);
    if (!page.has_more) break;
    expect(page.data).toHaveLength(limit);
    after = page.data[page.data.length - 1]!.id;
    if (pages > 10_000) throw new Error('pagination does not end');
  }
  return { items, pages };
}

/** Asserts a 400 invalid_request whose `param` names the field. */
export async function expectBadParam(res: Response, param: string): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(400);
  const body = JSON.parse(text) as { error: { code: string; param: string | null; type: string } };
  expect(body.error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param });
}
