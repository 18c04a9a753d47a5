import { and, count, eq, inArray, sql } from 'drizzle-orm';
import type { PgDatabase, PgDb } from './client.js';
import { apiKeys, jobs, ledger, webhookEvents } from './schema/index.js';
import { newWebhookEvent } from '../../webhooks/event.js';
import { newId } from '../../ids.js';
import { chargeFor } from '../../billing/catalog.js';
import { insertAudit } from './audit-store.js';
import { OPEN_STATUSES, type JobRow, type LedgerRow } from '../../store/rows.js';
import { BalanceError, type Actor } from '../../store/types.js';
import type { BillingStore } from '../../store/store.js';
import { insertArchiveTask } from './archive-store.js';

/**
 * The units of work that move money, on PostgreSQL. Each is one transaction at READ COMMITTED
 * that changes a job's state and writes its ledger entries together. Unlike SQLite's BEGIN
 * IMMEDIATE, nothing serialises these transactions as a whole, so each one takes the row locks it
 * relies on before it reads anything that decides: the key row before counting a key's open jobs
 * (placeHold), the job row by compare-and-set before moving money (settleJob). No network I/O
 * happens in here.
 */

/** Where a unit's statements run: the pool, or the transaction they belong to. */
type Conn = Pick<PgDb, 'insert' | 'update' | 'select'>;

/** PostgreSQL's SQLSTATE of a failed query (drizzle wraps the driver's error in `cause`). */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

const isOpen = (status: string) => (OPEN_STATUSES as readonly string[]).includes(status);

async function insertEntry(
  conn: Conn,
  e: { kind: LedgerRow['kind']; amountMicros: number; keyId: string; jobId: string | null; terminal?: boolean; note?: string | null },
  who: Actor,
): Promise<void> {
  await conn.insert(ledger).values({
    id: newId('led'),
    kind: e.kind,
    amountMicros: e.amountMicros,
    keyId: e.keyId,
    jobId: e.jobId,
    terminal: e.terminal ?? false,
    requestId: who.requestId,
    actor: who.actor,
    note: e.note ?? null,
    createdAt: who.now,
  });
}

/**
 * A positive amount tops up (credit); a negative one is an adjustment that may not take the
 * available balance below zero. Runs on `conn` (inside the caller's transaction: createKey,
 * appendCredit); the conditional UPDATE locks the key row, so concurrent holds wait for it.
 * Throws BalanceError when refused, which rolls the caller's transaction back.
 */
export async function creditIn(conn: Conn, keyId: string, amountMicros: number, note: string | null, who: Actor): Promise<LedgerRow> {
  if (!Number.isSafeInteger(amountMicros) || amountMicros === 0) throw new BalanceError('amount must be a non-zero whole number of micro-USD');
  const changed = await conn
    .update(apiKeys)
    .set({ balanceMicros: sql`${apiKeys.balanceMicros} + ${amountMicros}` })
    .where(
      and(
        eq(apiKeys.id, keyId),
        amountMicros < 0
          ? sql`${apiKeys.balanceMicros} - ${apiKeys.heldMicros} >= ${-amountMicros}`
          : // A balance past 2^53 micro-USD could not be read back exactly as a JS number (as on SQLite).
            sql`${apiKeys.balanceMicros} <= ${Number.MAX_SAFE_INTEGER - amountMicros}`,
      ),
    )
    .returning({ id: apiKeys.id });
  if (changed.length !== 1) {
    throw new BalanceError(amountMicros < 0 ? 'the adjustment would take the available balance below zero' : 'the credit would take the balance above the largest amount reelay keeps');
  }
  const [entry] = await conn
    .insert(ledger)
    .values({
      id: newId('led'),
      kind: amountMicros > 0 ? 'credit' : 'adjustment',
      amountMicros: Math.abs(amountMicros),
      keyId,
      jobId: null,
      requestId: who.requestId,
      actor: who.actor,
      note,
      createdAt: who.now,
    })
    .returning();
  return entry;
}

export function pgBillingStore({ db }: PgDatabase): BillingStore {
  return {
    /**
     * Reserves the price on the key and writes the pending job, or refuses. The key row is locked
     * first (FOR NO KEY UPDATE: the lock the conditional UPDATE takes anyway, which unlike FOR
     * UPDATE does not hold up inserts whose foreign key points at the key), so the count of open jobs that follows sees every earlier hold of this key committed
     * (a count taken before the lock admitted 22–24 jobs for a limit of 5 under concurrency), and
     * the conditional UPDATE is what keeps concurrent holds within the balance. The refusal
     * reasons come in SQLite's order: the in-flight limit is checked before the balance, and an
     * unknown key is refused as insufficient_quota (its UPDATE matches no row), as on SQLite.
     */
    async placeHold(job, who, limits) {
      return db.transaction(async (tx) => {
        if (limits.maxInflightJobs !== null) {
          await tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, job.keyId)).for('no key update');
          const [{ n }] = await tx
            .select({ n: count() })
            .from(jobs)
            .where(and(eq(jobs.keyId, job.keyId), inArray(jobs.status, [...OPEN_STATUSES])));
          if (n >= limits.maxInflightJobs) return { ok: false as const, reason: 'inflight_limit' as const };
        }
        const held = await tx
          .update(apiKeys)
          .set({ heldMicros: sql`${apiKeys.heldMicros} + ${job.heldMicros}` })
          .where(and(eq(apiKeys.id, job.keyId), sql`${apiKeys.balanceMicros} - ${apiKeys.heldMicros} >= ${job.heldMicros}`))
          .returning({ id: apiKeys.id });
        if (held.length !== 1) return { ok: false as const, reason: 'insufficient_quota' as const };
        const [row] = await tx
          .insert(jobs)
          .values({ ...job, status: 'pending', createdAt: who.now, updatedAt: who.now })
          .returning();
        if (job.heldMicros > 0) await insertEntry(tx, { kind: 'hold', amountMicros: job.heldMicros, keyId: job.keyId, jobId: job.id }, who);
        return { ok: true as const, job: row };
      });
    },

    /**
     * The upstream accepted the create: the job gets its video id before the client hears back.
     * `duplicate` when another job already has that video id (unique violation, 23505); undefined
     * when the job is no longer pending (released meanwhile).
     */
    async recordSubmitted(jobId, s, now) {
      try {
        const [row] = await db
          .update(jobs)
          .set({
            videoId: s.videoId,
            status: s.status,
            progress: s.progress,
            upstreamRequestId: s.upstreamRequestId,
            nextPollAt: s.nextPollAt,
            updatedAt: now,
          })
          .where(and(eq(jobs.id, jobId), eq(jobs.status, 'pending')))
          .returning();
        return row;
      } catch (err) {
        if (pgErrorCode(err) === '23505') return 'duplicate';
        throw err;
      }
    },

    /**
     * The one settle function. The compare-and-set UPDATE on the status takes the job's row lock:
     * a concurrent settle of the same job waits for it, then finds the status terminal and does
     * nothing (exactly once). The key and ledger writes follow in the same transaction. The
     * charge is worked out from the job's hold and rate, which never change after placeHold.
     */
    async settleJob(jobId, outcome, who) {
      return db.transaction(async (tx) => {
        const [job] = await tx.select().from(jobs).where(eq(jobs.id, jobId));
        if (!job || !isOpen(job.status)) return { settled: false as const, job };

        let charged = 0;
        let patch: Partial<JobRow>;
        switch (outcome.kind) {
          case 'completed':
            charged = chargeFor(job, outcome.billedSeconds);
            patch = {
              status: 'completed',
              billedSeconds: outcome.billedSeconds,
              outputSeconds: outcome.outputSeconds === undefined ? outcome.billedSeconds : outcome.outputSeconds,
              finalObject: outcome.finalObject,
              completedAt: outcome.completedAt,
              progress: 100,
            };
            break;
          case 'failed':
            patch = { status: 'failed', finalObject: outcome.finalObject, errorCode: outcome.errorCode, billedSeconds: 0, completedAt: who.now };
            break;
          case 'expired':
            patch = { status: 'expired', errorCode: outcome.reason, billedSeconds: 0 };
            break;
          case 'rejected':
            patch = { status: 'rejected', errorCode: outcome.errorCode, billedSeconds: 0 };
            break;
          case 'unknown':
            patch = { status: 'unknown', errorCode: outcome.reason, billedSeconds: 0 };
            break;
        }
        const [after] = await tx
          .update(jobs)
          .set({ ...patch, chargedMicros: charged, settledAt: who.now, updatedAt: who.now, nextPollAt: null })
          .where(and(eq(jobs.id, jobId), inArray(jobs.status, [...OPEN_STATUSES])))
          .returning();
        if (!after) {
          // Lost the race: the winner has committed (the UPDATE waited for it); show its row.
          const [now] = await tx.select().from(jobs).where(eq(jobs.id, jobId));
          return { settled: false as const, job: now };
        }

        const [key] = await tx
          .update(apiKeys)
          .set({
            heldMicros: sql`${apiKeys.heldMicros} - ${job.heldMicros}`,
            balanceMicros: sql`${apiKeys.balanceMicros} - ${charged}`,
          })
          .where(eq(apiKeys.id, job.keyId))
          .returning({ webhookUrl: apiKeys.webhookUrl });

        const released = job.heldMicros - charged;
        const note = outcome.kind === 'completed' ? `${outcome.billedSeconds}s billed` : outcome.kind;
        if (charged > 0) {
          await insertEntry(tx, { kind: 'capture', amountMicros: charged, keyId: job.keyId, jobId, terminal: true, note }, who);
          if (released > 0) await insertEntry(tx, { kind: 'release', amountMicros: released, keyId: job.keyId, jobId, note: 'unused remainder of the hold' }, who);
        } else if (released > 0) {
          await insertEntry(tx, { kind: 'release', amountMicros: released, keyId: job.keyId, jobId, terminal: true, note }, who);
        }
        if (outcome.kind === 'completed' && outcome.archive) await insertArchiveTask(tx, job, outcome.archive, outcome.completedAt, who.now);
        // The webhook event (contract §12), in this transaction: a crash can neither lose it nor
        // make two. The key row's URL is read under the lock the UPDATE above holds.
        const event = key?.webhookUrl ? newWebhookEvent(after, outcome.kind, who.now) : null;
        if (event) await tx.insert(webhookEvents).values(event).onConflictDoNothing();
        return { settled: true as const, job: after, chargedMicros: charged, webhookEventId: event?.id ?? null };
      });
    },

    /** A completion seen after the job was expired: recorded for the admin, never charged. */
    async recordLateCompletion(jobId, s, now) {
      await db
        .update(jobs)
        .set({ lateCompletedAt: now, finalObject: s.finalObject, completedAt: s.completedAt, outputSeconds: s.outputSeconds, updatedAt: now })
        .where(and(eq(jobs.id, jobId), eq(jobs.status, 'expired'), sql`${jobs.lateCompletedAt} is null`));
    },

    /** A top-up or adjustment (see creditIn); with `audit`, its audit entry in the same transaction. */
    async appendCredit(keyId, amountMicros, note, who, audit) {
      if (!Number.isSafeInteger(amountMicros) || amountMicros === 0) throw new BalanceError('amount must be a non-zero whole number of micro-USD');
      return db.transaction(async (tx) => {
        const entry = await creditIn(tx, keyId, amountMicros, note, who);
        if (audit) await insertAudit(tx, { ...who, ...audit });
        return entry;
      });
    },
  };
}
