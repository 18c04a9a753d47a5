import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { apiKeys, jobs, ledger, webhookEvents } from './schema/index.js';
import { newWebhookEvent } from '../webhooks/event.js';
import { newId } from '../ids.js';
import { chargeFor } from '../billing/catalog.js';
import type { JobRowCache } from './job-row-cache.js';
import { insertArchiveTask } from './archive-store.js';

/**
 * The units of work that move money. Each is one synchronous BEGIN IMMEDIATE transaction that
 * changes a job's state and writes its ledger entries together, so they commit or roll back as
 * one. No network I/O happens in here.
 */

export { OPEN_STATUSES, TERMINAL_STATUSES } from '../store/rows.js';
export type { JobStatus, JobKind, JobRow, LedgerRow } from '../store/rows.js';
export type { NewJob, Actor, HoldResult, Outcome, SettleResult } from '../store/types.js';
export { BalanceError } from '../store/types.js';
import { OPEN_STATUSES } from '../store/rows.js';
import type { JobRow, LedgerRow } from '../store/rows.js';
import { BalanceError, type NewJob, type Actor, type HoldResult, type Outcome, type SettleResult } from '../store/types.js';

/** `cache`: the /v1 routes' job rows; every write to a job here drops that job's row. */
export function billingStore({ db }: Database_, cache: JobRowCache) {
  const immediate = { behavior: 'immediate' } as const;
  // Prepared once: building this insert with drizzle on every settlement cost more than writing it.
  const p = (name: string) => sql.placeholder(name);
  const insertWebhookEvent = db
    .insert(webhookEvents)
    .values({
      id: p('id'),
      keyId: p('keyId'),
      jobId: p('jobId'),
      videoId: p('videoId'),
      type: p('type'),
      body: p('body'),
      status: p('status'),
      attemptCount: p('attemptCount'),
      retryStep: p('retryStep'),
      nextAttemptAt: p('nextAttemptAt'),
      createdAt: p('createdAt'),
    })
    .onConflictDoNothing()
    .prepare();

  function insertEntry(
    tx: Pick<typeof db, 'insert'>,
    e: { kind: LedgerRow['kind']; amountMicros: number; keyId: string; jobId: string | null; terminal?: boolean; note?: string | null },
    who: Actor,
  ) {
    tx.insert(ledger)
      .values({
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
      })
      .run();
  }

  return {
    /**
     * A key's available balance (balance − holds) and, when asked, its open jobs: read fresh (not
     * from the auth cache) for refusing a billable request before its body is read. Advisory
     * only: placeHold is the check that counts.
     */
    keyHeadroom(keyId: string, countOpenJobs: boolean): { availableMicros: number; openJobs: number } {
      const key = db
        .select({ available: sql<number>`${apiKeys.balanceMicros} - ${apiKeys.heldMicros}` })
        .from(apiKeys)
        .where(eq(apiKeys.id, keyId))
        .get();
      const openJobs = countOpenJobs
        ? db
            .select({ n: sql<number>`count(*)` })
            .from(jobs)
            .where(and(eq(jobs.keyId, keyId), inArray(jobs.status, [...OPEN_STATUSES])))
            .get()!.n
        : 0;
      return { availableMicros: key?.available ?? 0, openJobs };
    },

    /**
     * Reserves the price on the key and writes the pending job, or refuses. The conditional UPDATE
     * is the only check that matters: concurrent holds can never exceed the balance.
     */
    placeHold(job: NewJob, who: Actor, limits: { maxInflightJobs: number | null }): HoldResult {
      return db.transaction((tx) => {
        if (limits.maxInflightJobs !== null) {
          const open = tx
            .select({ n: sql<number>`count(*)` })
            .from(jobs)
            .where(and(eq(jobs.keyId, job.keyId), inArray(jobs.status, [...OPEN_STATUSES])))
            .get()!.n;
          if (open >= limits.maxInflightJobs) return { ok: false as const, reason: 'inflight_limit' as const };
        }
        const held = tx
          .update(apiKeys)
          .set({ heldMicros: sql`${apiKeys.heldMicros} + ${job.heldMicros}` })
          .where(and(eq(apiKeys.id, job.keyId), sql`${apiKeys.balanceMicros} - ${apiKeys.heldMicros} >= ${job.heldMicros}`))
          .run();
        if (held.changes !== 1) return { ok: false as const, reason: 'insufficient_quota' as const };
        const row = tx
          .insert(jobs)
          .values({ ...job, status: 'pending', createdAt: who.now, updatedAt: who.now })
          .returning()
          .get();
        if (job.heldMicros > 0) insertEntry(tx, { kind: 'hold', amountMicros: job.heldMicros, keyId: job.keyId, jobId: job.id }, who);
        return { ok: true as const, job: row };
      }, immediate);
    },

    /**
     * The upstream accepted the create: the job gets its video id before the client hears back.
     * `duplicate` when another job already has that video id (a misbehaving upstream); undefined
     * when the job is no longer pending (released meanwhile).
     */
    recordSubmitted(
      jobId: string,
      s: { videoId: string; status: 'queued' | 'in_progress'; progress: number | null; upstreamRequestId: string | null; nextPollAt: number },
      now: number,
    ): JobRow | 'duplicate' | undefined {
      cache.forget(jobId);
      try {
        return db
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
          .returning()
          .get();
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return 'duplicate';
        throw err;
      }
    },

    /**
     * The one settle function: moves an open job to its terminal state and writes its ledger entries
     * in one transaction. Compare-and-set on the status means the loser of any race does nothing.
     */
    settleJob(jobId: string, outcome: Outcome, who: Actor): SettleResult {
      cache.forget(jobId);
      return db.transaction((tx) => {
        const job = tx.select().from(jobs).where(eq(jobs.id, jobId)).get();
        if (!job || !(OPEN_STATUSES as readonly string[]).includes(job.status)) return { settled: false as const, job };

        let charged = 0;
        let patch: Partial<JobRow>;
        switch (outcome.kind) {
          case 'completed': {
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
          }
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
        const moved = tx
          .update(jobs)
          .set({ ...patch, chargedMicros: charged, settledAt: who.now, updatedAt: who.now, nextPollAt: null })
          .where(and(eq(jobs.id, jobId), inArray(jobs.status, [...OPEN_STATUSES])))
          .run();
        if (moved.changes !== 1) return { settled: false as const, job };

        const key = tx
          .update(apiKeys)
          .set({
            heldMicros: sql`${apiKeys.heldMicros} - ${job.heldMicros}`,
            balanceMicros: sql`${apiKeys.balanceMicros} - ${charged}`,
          })
          .where(eq(apiKeys.id, job.keyId))
          .returning({ webhookUrl: apiKeys.webhookUrl })
          .get();

        const released = job.heldMicros - charged;
        const note = outcome.kind === 'completed' ? `${outcome.billedSeconds}s billed` : outcome.kind;
        if (charged > 0) {
          insertEntry(tx, { kind: 'capture', amountMicros: charged, keyId: job.keyId, jobId, terminal: true, note }, who);
          if (released > 0) insertEntry(tx, { kind: 'release', amountMicros: released, keyId: job.keyId, jobId, note: 'unused remainder of the hold' }, who);
        } else if (released > 0) {
          insertEntry(tx, { kind: 'release', amountMicros: released, keyId: job.keyId, jobId, terminal: true, note }, who);
        }
        // The webhook event (contract §12), in this transaction: a crash can neither lose it nor make two.
        const event = key?.webhookUrl ? newWebhookEvent(job, outcome.kind, who.now) : null;
        if (event) insertWebhookEvent.run(event);
        if (outcome.kind === 'completed' && outcome.archive) insertArchiveTask(tx, job, outcome.archive, outcome.completedAt, who.now);
        const after = tx.select().from(jobs).where(eq(jobs.id, jobId)).get()!;
        return { settled: true as const, job: after, chargedMicros: charged, webhookEventId: event?.id ?? null };
      }, immediate);
    },

    /** A completion seen after the job was expired: recorded for the admin, never charged. */
    recordLateCompletion(jobId: string, s: { billedSeconds: number; outputSeconds: number | null; finalObject: string; completedAt: number }, now: number): void {
      cache.forget(jobId);
      db.update(jobs)
        .set({ lateCompletedAt: now, finalObject: s.finalObject, completedAt: s.completedAt, outputSeconds: s.outputSeconds, updatedAt: now })
        .where(and(eq(jobs.id, jobId), eq(jobs.status, 'expired'), sql`${jobs.lateCompletedAt} is null`))
        .run();
    },

    /**
     * A positive amount tops up (credit); a negative one is an adjustment that may not take the
     * available balance below zero.
     */
    appendCredit(keyId: string, amountMicros: number, note: string | null, who: Actor): LedgerRow {
      if (!Number.isSafeInteger(amountMicros) || amountMicros === 0) throw new BalanceError('amount must be a non-zero whole number of micro-USD');
      return db.transaction((tx) => {
        const changed = tx
          .update(apiKeys)
          .set({ balanceMicros: sql`${apiKeys.balanceMicros} + ${amountMicros}` })
          .where(
            and(
              eq(apiKeys.id, keyId),
              amountMicros < 0
                ? sql`${apiKeys.balanceMicros} - ${apiKeys.heldMicros} >= ${-amountMicros}`
                : // A balance past 2^53 micro-USD could not be read back exactly (SQLite would even turn it into a float past 2^63).
                  sql`${apiKeys.balanceMicros} <= ${Number.MAX_SAFE_INTEGER - amountMicros}`,
            ),
          )
          .run();
        if (changed.changes !== 1) {
          throw new BalanceError(amountMicros < 0 ? 'the adjustment would take the available balance below zero' : 'the credit would take the balance above the largest amount reelay keeps');
        }
        const id = newId('led');
        tx.insert(ledger)
          .values({
            id,
            kind: amountMicros > 0 ? 'credit' : 'adjustment',
            amountMicros: Math.abs(amountMicros),
            keyId,
            jobId: null,
            requestId: who.requestId,
            actor: who.actor,
            note,
            createdAt: who.now,
          })
          .run();
        return tx.select().from(ledger).where(eq(ledger.id, id)).get()!;
      }, immediate);
    },
  };
}
