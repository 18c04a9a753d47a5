import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { idempotencyKeys, instances } from './schema/index.js';
import type { IdempotencyStore } from '../../store/store.js';

/**
 * Idempotency-Key records on PostgreSQL; the same units as src/db/idempotency-store.ts. A claim is
 * settled by single statements, never select→delete→insert: the INSERT … ON CONFLICT DO NOTHING
 * takes a free key, and a conditional UPDATE (compare-and-set on the record's age and state)
 * takes over one that has expired or was abandoned. Whichever of several concurrent claims gets
 * the row lock first wins; the others re-check the condition on the row it wrote and fail it.
 */
/** The claim is still `holder`'s and in flight (no condition without a holder). */
const heldBy = (holder: string | undefined) =>
  holder === undefined ? undefined : and(eq(idempotencyKeys.instanceId, holder), eq(idempotencyKeys.state, 'in_flight'));

export function pgIdempotencyStore({ db }: PgDatabase): IdempotencyStore {
  const keyIs = (keyId: string, idemKey: string) => and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idemKey, idemKey));

  return {
    /**
     * Claims (keyId, idemKey) for a new request, or returns the live record that already holds
     * it. A record older than `expiredBefore`, or an in-flight one whose instance is dead (stopped,
     * unknown, or silent since `deadBefore`: its request died with it), is replaced.
     */
    async claimIdempotencyKey(r) {
      // A record can vanish between the statements (released, purged): then claim again. Each
      // round ends as soon as one statement decides, so this loops only while others delete.
      for (let attempt = 0; ; attempt++) {
        const inserted = await db
          .insert(idempotencyKeys)
          .values({ keyId: r.keyId, idemKey: r.idemKey, route: r.route, bodyHash: r.bodyHash, state: 'in_flight', createdAt: r.now, instanceId: r.instanceId })
          .onConflictDoNothing()
          .returning({ keyId: idempotencyKeys.keyId });
        if (inserted.length === 1) return { claimed: true as const };

        const fresh = { route: r.route, bodyHash: r.bodyHash, state: 'in_flight' as const, responseStatus: null, responseHeaders: null, responseBody: null, createdAt: r.now, instanceId: r.instanceId };
        const expired = await db
          .update(idempotencyKeys)
          .set(fresh)
          .where(and(keyIs(r.keyId, r.idemKey), lt(idempotencyKeys.createdAt, r.expiredBefore)))
          .returning({ keyId: idempotencyKeys.keyId });
        if (expired.length === 1) return { claimed: true as const };
        // In flight on a dead instance: its request may have been forwarded before it died.
        const abandoned = await db
          .update(idempotencyKeys)
          .set(fresh)
          .where(
            and(
              keyIs(r.keyId, r.idemKey),
              eq(idempotencyKeys.state, 'in_flight'),
              sql`${idempotencyKeys.instanceId} is distinct from ${r.instanceId}`,
              sql`not exists (select 1 from ${instances} where ${instances.id} = ${idempotencyKeys.instanceId}
                and ${instances.stoppedAt} is null and ${instances.heartbeatAt} >= ${r.deadBefore})`,
            ),
          )
          .returning({ keyId: idempotencyKeys.keyId });
        if (abandoned.length === 1) return { claimed: true as const, abandoned: true as const };

        const [existing] = await db.select().from(idempotencyKeys).where(keyIs(r.keyId, r.idemKey));
        if (existing) return { claimed: false as const, existing };
        if (attempt >= 100) throw new Error('idempotency key claim kept losing to concurrent deletes');
      }
    },
    /** A record for (keyId, idemKey) created at or after `since` exists. */
    async hasIdempotencyRecord(keyId, idemKey, since) {
      const [row] = await db.select({ createdAt: idempotencyKeys.createdAt }).from(idempotencyKeys).where(keyIs(keyId, idemKey));
      return row !== undefined && row.createdAt >= since;
    },
    async completeIdempotencyKey(keyId, idemKey, res, holder) {
      await db
        .update(idempotencyKeys)
        .set({ state: 'done', responseStatus: res.status, responseHeaders: JSON.stringify(res.headers), responseBody: res.body })
        .where(and(keyIs(keyId, idemKey), heldBy(holder)));
    },
    /** Frees the key when nothing was created (rejected before forwarding, or unknown outcome). */
    async releaseIdempotencyKey(keyId, idemKey, holder) {
      await db.delete(idempotencyKeys).where(and(keyIs(keyId, idemKey), heldBy(holder)));
    },
    async purgeIdempotencyKeys(before) {
      const res = await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, before));
      return res.rowCount ?? 0;
    },
  };
}

