import type { Context } from 'hono';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { cheapestPriceMicros } from '../billing/catalog.js';
import { formatUsd } from '../money.js';
import { IDEMPOTENCY_TTL_MS } from '../db/idempotency-store.js';

/**
 * Refuses a billable POST before its body is read when the key cannot possibly go on: it is at
 * its in-flight-jobs limit, or its available balance is below the cheapest price any request could
 * have. Reading and parsing a 60 MB upload only to refuse it costs the server its memory; this
 * check costs one indexed read. It is advisory — the hold after parsing is the money check — and
 * it answers exactly as the hold would (same codes, headers and message shape).
 *
 * A request that repeats a live Idempotency-Key is let through: its first answer is replayed, even
 * when the job it created is what now uses the key's balance or in-flight slots.
 */
export async function refuseHopelessSubmit(c: Context<AppEnv>, deps: Deps): Promise<void> {
  const key = c.get('state').key!;
  const idemKey = c.req.header('idempotency-key');
  if (idemKey !== undefined && await deps.store.hasIdempotencyRecord(key.id, idemKey, deps.now() - IDEMPOTENCY_TTL_MS)) return;
  const limit = key.maxInflightJobs;
  const headroom = await deps.store.keyHeadroom(key.id, limit !== null);
  if (limit !== null && headroom.openJobs >= limit) {
    throw new ApiError('rate_limit_exceeded', `This key already has ${limit} jobs in flight; wait for one to finish.`, null, { 'retry-after': '10' });
  }
  const cheapest = cheapestPriceMicros(deps.catalog, key.allowedModels);
  if (headroom.availableMicros < cheapest) {
    throw new ApiError(
      'insufficient_quota',
      `Your available balance does not cover this job (at least ${formatUsd(cheapest)} USD). Top up the key to continue.`,
      null,
      { 'x-should-retry': 'false' },
    );
  }
}
