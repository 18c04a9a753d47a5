import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { PgDatabase, PgDb } from './client.js';
import { apiKeys, instances, webhookAttempts, webhookEvents, webhookSecrets } from './schema/index.js';
import { insertAudit } from './audit-store.js';
import { withAttempts } from '../webhooks-store.js';
import type { NewWebhookSecret } from '../../store/types.js';
import type { WebhooksStore } from '../../store/store.js';

/** Where a unit's statements run: the pool, or the transaction they belong to. */
type Conn = Pick<PgDb, 'insert' | 'update' | 'select' | 'delete'>;

/**
 * After a key's webhook URL was set (`url`) or removed (null), in the caller's transaction (which
 * has locked the key row, so two changes of one key cannot both issue a secret): a key without a
 * current secret gets `candidate` (returned); removing the URL drops its secrets.
 */
export async function applyWebhookUrl(conn: Conn, keyId: string, url: string | null, candidate: NewWebhookSecret | undefined, now: number): Promise<string | undefined> {
  if (url === null) {
    await conn.delete(webhookSecrets).where(eq(webhookSecrets.keyId, keyId));
    return undefined;
  }
  const [current] = await conn
    .select({ id: webhookSecrets.id })
    .from(webhookSecrets)
    .where(and(eq(webhookSecrets.keyId, keyId), isNull(webhookSecrets.expiresAt)));
  if (current || !candidate) return undefined;
  await conn.delete(webhookSecrets).where(eq(webhookSecrets.keyId, keyId));
  await conn.insert(webhookSecrets).values({ id: candidate.id, keyId, secret: candidate.secret, createdAt: now, expiresAt: null });
  return candidate.secret;
}

/** Webhooks on PostgreSQL; the same units as src/db/webhooks-store.ts and its composed units in src/db/store.ts. */
export function pgWebhooksStore({ db }: PgDatabase): WebhooksStore {
  const liveHolder = (deadBefore: number) => sql`exists (
      select 1 from ${instances} where ${instances.id} = ${webhookEvents.claimedBy}
        and ${instances.stoppedAt} is null and ${instances.heartbeatAt} >= ${deadBefore})`;

  return {
    async webhookTarget(keyId, now) {
      const [key] = await db.select({ url: apiKeys.webhookUrl }).from(apiKeys).where(eq(apiKeys.id, keyId));
      if (!key?.url) return { url: null, secrets: [] };
      const rows = await db
        .select({ secret: webhookSecrets.secret })
        .from(webhookSecrets)
        .where(and(eq(webhookSecrets.keyId, keyId), or(isNull(webhookSecrets.expiresAt), sql`${webhookSecrets.expiresAt} > ${now}`)))
        .orderBy(sql`${webhookSecrets.expiresAt} is not null`, desc(webhookSecrets.createdAt));
      return { url: key.url, secrets: rows.map((r) => r.secret) };
    },

    async rotateWebhookSecret(keyId, next, now, overlapMs, audit) {
      return db.transaction(async (tx) => {
        // The key row first: rotations and URL changes of one key take turns.
        const [key] = await tx.select().from(apiKeys).where(eq(apiKeys.id, keyId)).for('no key update');
        if (!key) return undefined;
        if (!key.webhookUrl) return 'no_endpoint' as const;
        await tx.delete(webhookSecrets).where(and(eq(webhookSecrets.keyId, keyId), isNotNull(webhookSecrets.expiresAt), lte(webhookSecrets.expiresAt, now)));
        await tx.update(webhookSecrets).set({ expiresAt: now + overlapMs }).where(and(eq(webhookSecrets.keyId, keyId), isNull(webhookSecrets.expiresAt)));
        await tx.insert(webhookSecrets).values({ id: next.id, keyId, secret: next.secret, createdAt: now, expiresAt: null });
        if (audit) await insertAudit(tx, { ...audit.who, ...audit.entry });
        return key;
      });
    },

    async claimDueWebhookEvents(r) {
      // As claimDueJobs: the inner select locks the rows it picks and skips rows another instance
      // is leasing right now; READ COMMITTED re-checks the WHERE of the locked rows.
      const claimable = sql`${webhookEvents.id} in (
        select ${webhookEvents.id} from ${webhookEvents}
        where ${webhookEvents.status} = 'pending' and ${webhookEvents.nextAttemptAt} <= ${r.now}
          and (${webhookEvents.claimedBy} is null or ${webhookEvents.claimUntil} <= ${r.now} or not ${liveHolder(r.deadBefore)})
        order by ${webhookEvents.nextAttemptAt}
        limit ${r.limit}
        for update skip locked)`;
      const rows = await db.update(webhookEvents).set({ claimedBy: r.instanceId, claimUntil: r.claimUntil }).where(claimable).returning();
      return rows.sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0));
    },

    async recordWebhookAttempt(eventId, instanceId, attempt, outcome) {
      return db.transaction(async (tx) => {
        await tx.insert(webhookAttempts).values({ eventId, instanceId, ...attempt });
        const moved =
          outcome.status === 'delivered'
            ? await tx
                .update(webhookEvents)
                .set({ status: 'delivered', deliveredAt: attempt.at, nextAttemptAt: null, claimedBy: null, claimUntil: null, attemptCount: sql`${webhookEvents.attemptCount} + 1` })
                .where(and(eq(webhookEvents.id, eventId), eq(webhookEvents.status, 'pending')))
                .returning({ id: webhookEvents.id })
            : await tx
                .update(webhookEvents)
                .set({
                  status: outcome.status,
                  nextAttemptAt: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
                  retryStep: sql`${webhookEvents.retryStep} + 1`,
                  claimedBy: null,
                  claimUntil: null,
                  attemptCount: sql`${webhookEvents.attemptCount} + 1`,
                })
                .where(and(eq(webhookEvents.id, eventId), eq(webhookEvents.status, 'pending'), eq(webhookEvents.claimedBy, instanceId)))
                .returning({ id: webhookEvents.id });
        if (moved.length === 0) {
          await tx.update(webhookEvents).set({ attemptCount: sql`${webhookEvents.attemptCount} + 1` }).where(eq(webhookEvents.id, eventId));
        }
        return moved.length === 1;
      });
    },

    async requeueWebhookEvent(eventId, now, audit) {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .update(webhookEvents)
          .set({ status: 'pending', nextAttemptAt: now, retryStep: 0, claimedBy: null, claimUntil: null })
          .where(eq(webhookEvents.id, eventId))
          .returning();
        if (row && audit) await insertAudit(tx, { ...audit.who, ...audit.entry });
        return row;
      });
    },

    async getWebhookEvent(id) {
      const [row] = await db.select().from(webhookEvents).where(eq(webhookEvents.id, id));
      return row;
    },

    async getWebhookDelivery(id) {
      const [event] = await db.select().from(webhookEvents).where(eq(webhookEvents.id, id));
      if (!event) return undefined;
      return { event, attempts: await db.select().from(webhookAttempts).where(eq(webhookAttempts.eventId, id)).orderBy(asc(webhookAttempts.seq)) };
    },

    async listWebhookDeliveries(q) {
      const events = await db
        .select()
        .from(webhookEvents)
        .where(
          and(
            q.keyId !== undefined ? eq(webhookEvents.keyId, q.keyId) : undefined,
            q.status !== undefined ? eq(webhookEvents.status, q.status) : undefined,
            // Plain collation, so webhook_events_key_idx serves the order: event ids are all
            // `evt_` and 24 lowercase hex digits, which every collation orders as bytes.
            q.afterId !== undefined ? lt(webhookEvents.id, q.afterId) : undefined,
          ),
        )
        .orderBy(desc(webhookEvents.id))
        .limit(q.limit);
      if (events.length === 0) return [];
      const attempts = await db
        .select()
        .from(webhookAttempts)
        .where(inArray(webhookAttempts.eventId, events.map((e) => e.id)))
        .orderBy(asc(webhookAttempts.seq));
      return withAttempts(events, attempts);
    },
  };
}
