import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { apiKeys, webhookAttempts, webhookEvents, webhookSecrets } from './schema/index.js';
import type { WebhookAttemptRow, WebhookEventRow } from '../store/rows.js';
import type { NewWebhookSecret } from '../store/types.js';
import type { WebhookAttempt, WebhookAttemptOutcome, WebhookDelivery, WebhookDeliveryQuery } from '../store/store.js';

/**
 * Webhooks on SQLite (contract §12): keys' signing secrets, and the outbox of events that the
 * settling transaction writes (src/db/billing-store.ts) and delivery workers lease. Each write is
 * one statement or one BEGIN IMMEDIATE transaction (the audited units are composed in store.ts).
 */
export function webhooksStore({ db, sqlite }: Database_) {
  // One statement: choose the due events no live instance holds, and lease them. SQLite runs it
  // under its write lock, so two processes can never lease the same event.
  const claimStmt = sqlite.prepare(`
    update webhook_events set claimed_by = @instanceId, claim_until = @claimUntil
    where id in (
      select id from webhook_events
      where status = 'pending' and next_attempt_at <= @now
        and (claimed_by is null or claim_until <= @now or not exists (
          select 1 from instances i where i.id = webhook_events.claimed_by and i.stopped_at is null and i.heartbeat_at >= @deadBefore))
      order by next_attempt_at
      limit @limit)
    returning id`);

  /** The secrets that sign at `now`: the current one, and previous ones still within their overlap. */
  const validSecrets = (keyId: string, now: number) =>
    db
      .select({ secret: webhookSecrets.secret })
      .from(webhookSecrets)
      .where(and(eq(webhookSecrets.keyId, keyId), or(isNull(webhookSecrets.expiresAt), sql`${webhookSecrets.expiresAt} > ${now}`)))
      .orderBy(sql`${webhookSecrets.expiresAt} is not null`, desc(webhookSecrets.createdAt))
      .all()
      .map((r) => r.secret);

  return {
    webhookTarget(keyId: string, now: number): { url: string | null; secrets: string[] } {
      const key = db.select({ url: apiKeys.webhookUrl }).from(apiKeys).where(eq(apiKeys.id, keyId)).get();
      return { url: key?.url ?? null, secrets: key?.url ? validSecrets(keyId, now) : [] };
    },

    /**
     * After a key's webhook URL was set (`url`) or removed (null), in the caller's transaction:
     * a key without a current secret gets `candidate` (returned); removing the URL drops its secrets.
     */
    applyWebhookUrl(keyId: string, url: string | null, candidate: NewWebhookSecret | undefined, now: number): string | undefined {
      if (url === null) {
        db.delete(webhookSecrets).where(eq(webhookSecrets.keyId, keyId)).run();
        return undefined;
      }
      const current = db
        .select({ id: webhookSecrets.id })
        .from(webhookSecrets)
        .where(and(eq(webhookSecrets.keyId, keyId), isNull(webhookSecrets.expiresAt)))
        .get();
      if (current || !candidate) return undefined;
      db.delete(webhookSecrets).where(eq(webhookSecrets.keyId, keyId)).run();
      db.insert(webhookSecrets).values({ id: candidate.id, keyId, secret: candidate.secret, createdAt: now, expiresAt: null }).run();
      return candidate.secret;
    },

    /** In the caller's transaction: the current secret signs on until now + overlapMs; `next` becomes current. */
    rotateSecret(keyId: string, next: NewWebhookSecret, now: number, overlapMs: number): boolean {
      const key = db.select({ url: apiKeys.webhookUrl }).from(apiKeys).where(eq(apiKeys.id, keyId)).get();
      if (!key?.url) return false;
      db.delete(webhookSecrets).where(and(eq(webhookSecrets.keyId, keyId), isNotNull(webhookSecrets.expiresAt), lte(webhookSecrets.expiresAt, now))).run();
      db.update(webhookSecrets).set({ expiresAt: now + overlapMs }).where(and(eq(webhookSecrets.keyId, keyId), isNull(webhookSecrets.expiresAt))).run();
      db.insert(webhookSecrets).values({ id: next.id, keyId, secret: next.secret, createdAt: now, expiresAt: null }).run();
      return true;
    },

    claimDueWebhookEvents(r: { instanceId: string; now: number; claimUntil: number; deadBefore: number; limit: number }): WebhookEventRow[] {
      const ids = (claimStmt.all(r) as { id: string }[]).map((row) => row.id);
      if (ids.length === 0) return [];
      const rows = db.select().from(webhookEvents).where(inArray(webhookEvents.id, ids)).all();
      return rows.sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0));
    },

    recordWebhookAttempt(eventId: string, instanceId: string, attempt: WebhookAttempt, outcome: WebhookAttemptOutcome): boolean {
      return db.transaction(
        (tx) => {
          tx.insert(webhookAttempts).values({ eventId, instanceId, ...attempt }).run();
          const stillOurs = and(eq(webhookEvents.id, eventId), eq(webhookEvents.status, 'pending'), eq(webhookEvents.claimedBy, instanceId));
          const moved =
            outcome.status === 'delivered'
              ? // A delivery counts whoever holds the lease now: the client has the event.
                tx
                  .update(webhookEvents)
                  .set({ status: 'delivered', deliveredAt: attempt.at, nextAttemptAt: null, claimedBy: null, claimUntil: null, attemptCount: sql`${webhookEvents.attemptCount} + 1` })
                  .where(and(eq(webhookEvents.id, eventId), eq(webhookEvents.status, 'pending')))
                  .run()
              : tx
                  .update(webhookEvents)
                  .set({
                    status: outcome.status,
                    nextAttemptAt: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
                    retryStep: sql`${webhookEvents.retryStep} + 1`,
                    claimedBy: null,
                    claimUntil: null,
                    attemptCount: sql`${webhookEvents.attemptCount} + 1`,
                  })
                  .where(stillOurs)
                  .run();
          if (moved.changes === 0) {
            // The attempt happened all the same (its row stays); count it on the event.
            tx.update(webhookEvents).set({ attemptCount: sql`${webhookEvents.attemptCount} + 1` }).where(eq(webhookEvents.id, eventId)).run();
          }
          return moved.changes === 1;
        },
        { behavior: 'immediate' },
      );
    },

    /** Sends the event again now, whatever its status: pending, due now, its retry schedule from the start. */
    requeueWebhookEvent(eventId: string, now: number): WebhookEventRow | undefined {
      return db
        .update(webhookEvents)
        .set({ status: 'pending', nextAttemptAt: now, retryStep: 0, claimedBy: null, claimUntil: null })
        .where(eq(webhookEvents.id, eventId))
        .returning()
        .get();
    },

    getWebhookEvent(id: string): WebhookEventRow | undefined {
      return db.select().from(webhookEvents).where(eq(webhookEvents.id, id)).get();
    },

    getWebhookDelivery(id: string): WebhookDelivery | undefined {
      const event = db.select().from(webhookEvents).where(eq(webhookEvents.id, id)).get();
      if (!event) return undefined;
      return { event, attempts: db.select().from(webhookAttempts).where(eq(webhookAttempts.eventId, id)).orderBy(asc(webhookAttempts.seq)).all() };
    },

    listWebhookDeliveries(q: WebhookDeliveryQuery): WebhookDelivery[] {
      const events = db
        .select()
        .from(webhookEvents)
        .where(
          and(
            q.keyId !== undefined ? eq(webhookEvents.keyId, q.keyId) : undefined,
            q.status !== undefined ? eq(webhookEvents.status, q.status) : undefined,
            q.afterId !== undefined ? lt(webhookEvents.id, q.afterId) : undefined,
          ),
        )
        .orderBy(desc(webhookEvents.id))
        .limit(q.limit)
        .all();
      if (events.length === 0) return [];
      const attempts = db
        .select()
        .from(webhookAttempts)
        .where(inArray(webhookAttempts.eventId, events.map((e) => e.id)))
        .orderBy(asc(webhookAttempts.seq))
        .all();
      return withAttempts(events, attempts);
    },
  };
}

/** Events with their attempts (oldest attempt first), in the events' order. */
export function withAttempts(events: WebhookEventRow[], attempts: WebhookAttemptRow[]): WebhookDelivery[] {
  const byEvent = new Map<string, WebhookAttemptRow[]>();
  for (const a of attempts) {
    const list = byEvent.get(a.eventId);
    if (list) list.push(a);
    else byEvent.set(a.eventId, [a]);
  }
  return events.map((event) => ({ event, attempts: byEvent.get(event.id) ?? [] }));
}
