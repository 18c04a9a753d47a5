import { and, eq, lt } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { idempotencyKeys, instances } from './schema/index.js';
import type { Db } from './client.js';

/** The claim is still `holder`'s and in flight (no condition without a holder). */
const heldBy = (holder: string | undefined) =>
  holder === undefined ? undefined : and(eq(idempotencyKeys.instanceId, holder), eq(idempotencyKeys.state, 'in_flight'));

/** The instance has a heartbeat since `deadBefore` and has not stopped. */
function instanceAlive(tx: Pick<Db, 'select'>, id: string | null, deadBefore: number): boolean {
  if (id === null) return false;
  const row = tx.select({ heartbeatAt: instances.heartbeatAt, stoppedAt: instances.stoppedAt }).from(instances).where(eq(instances.id, id)).get();
  return row !== undefined && row.stoppedAt === null && row.heartbeatAt >= deadBefore;
}

/** How long an Idempotency-Key replays its first answer. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export type { IdempotencyRow } from '../store/rows.js';
export type { ClaimResult } from '../store/types.js';
import type { ClaimResult } from '../store/types.js';

export function idempotencyStore({ db }: Database_) {
  return {
    /**
     * Claims (keyId, idemKey) for a new request, or returns the live record that already holds it.
     * A record older than `expiredBefore` is replaced, and so is an in-flight claim whose instance
     * is dead (stopped, unknown, or silent since `deadBefore`): its request died with it, and the
     * hold it placed is released by the reconciler's takeover of that instance's pending creates.
     */
    claimIdempotencyKey(r: { keyId: string; idemKey: string; route: string; bodyHash: string; now: number; expiredBefore: number; instanceId: string; deadBefore: number }): ClaimResult {
      return db.transaction(
        (tx) => {
          const where = and(eq(idempotencyKeys.keyId, r.keyId), eq(idempotencyKeys.idemKey, r.idemKey));
          const existing = tx.select().from(idempotencyKeys).where(where).get();
          const abandoned = existing?.state === 'in_flight' && existing.instanceId !== r.instanceId && !instanceAlive(tx, existing.instanceId, r.deadBefore);
          const live = existing && existing.createdAt >= r.expiredBefore && !abandoned;
          if (existing && live) return { claimed: false as const, existing };
          if (existing) tx.delete(idempotencyKeys).where(where).run();
          tx.insert(idempotencyKeys)
            .values({ keyId: r.keyId, idemKey: r.idemKey, route: r.route, bodyHash: r.bodyHash, state: 'in_flight', createdAt: r.now, instanceId: r.instanceId })
            .run();
          // An expired record is simply replaced; a live one abandoned by a dead instance may have
          // been forwarded before that instance died.
          return existing && existing.createdAt >= r.expiredBefore ? { claimed: true as const, abandoned: true as const } : { claimed: true as const };
        },
        { behavior: 'immediate' },
      );
    },
    /** A record for (keyId, idemKey) created at or after `since` exists (its request will be replayed or refused as in use). */
    hasIdempotencyRecord(keyId: string, idemKey: string, since: number): boolean {
      const row = db
        .select({ createdAt: idempotencyKeys.createdAt })
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idemKey, idemKey)))
        .get();
      return row !== undefined && row.createdAt >= since;
    },
    completeIdempotencyKey(keyId: string, idemKey: string, res: { status: number; headers: Record<string, string>; body: string }, holder?: string): void {
      db.update(idempotencyKeys)
        .set({ state: 'done', responseStatus: res.status, responseHeaders: JSON.stringify(res.headers), responseBody: res.body })
        .where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idemKey, idemKey), heldBy(holder)))
        .run();
    },
    /** Frees the key when nothing was created (rejected before forwarding, or unknown outcome). */
    releaseIdempotencyKey(keyId: string, idemKey: string, holder?: string): void {
      db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idemKey, idemKey), heldBy(holder))).run();
    },
    purgeIdempotencyKeys(before: number): number {
      return db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, before)).run().changes;
    },
  };
}
