import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { PgDatabase, PgDb } from './client.js';
import { apiKeys, jobs, ledger, webhookEvents } from './schema/index.js';
import { newWebhookEvent } from '../../webhooks/event.js';
import { newId } from '../../ids.js';
import { chargeFor } from '../../billing/catalog.js';
import { insertAudit } from './audit-store.js';
import { OPEN_STATUSES, type JobRow, type LedgerRow } from '../../store/rows.js';
import { BalanceError, type Actor, type NewJob } from '../../store/types.js';
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

const OPEN_LIST = OPEN_STATUSES.map((st) => `'${st}'`).join(', ');
const COUNT_OPEN_SQL = `select count(*) as n from jobs where key_id = $1 and status in (${OPEN_LIST})`;

/**
 * The hold as one statement: the key's conditional UPDATE, then the pending job and its `hold`
 * ledger entry, each written only if the row before it was. Returns the job row, or no row when
 * the available balance does not cover the hold (or the key does not exist).
 * $1 job id, $2 key id, $3 kind, $4 model, $5 size, $6 requested seconds, $7 source video id,
 * $8 rate, $9 flat price, $10 held micros, $11 the job's request id, $12 instance id,
 * $13 upstream id, $14 now, $15 ledger entry id, $16 the actor's request id, $17 actor.
 */
const PLACE_HOLD_SQL = `
with held as (
  update api_keys set held_micros = held_micros + $10::bigint
  where id = $2 and balance_micros - held_micros >= $10::bigint
  returning id
), job as (
  insert into jobs (id, key_id, kind, model, size, requested_seconds, source_video_id, rate_micros, flat_price_micros,
                    held_micros, request_id, instance_id, upstream_id, status, created_at, updated_at)
  select $1, $2, $3, $4, $5, $6::integer, $7, $8::bigint, $9::bigint, $10::bigint, $11, $12, $13, 'pending', $14::bigint, $14::bigint
  from held
  returning *
), hold as (
  insert into ledger (id, kind, amount_micros, key_id, job_id, terminal, request_id, actor, note, created_at)
  select $15, 'hold', $10::bigint, $2, job.id, false, $16, $17, null, $14::bigint
  from job where $10::bigint > 0
)
select * from job`;

function placeHoldValues(job: NewJob, who: Actor): unknown[] {
  return [
    job.id, job.keyId, job.kind, job.model, job.size, job.requestedSeconds, job.sourceVideoId, job.rateMicros, job.flatPriceMicros,
    job.heldMicros, job.requestId, job.instanceId ?? null, job.upstreamId ?? 'default', who.now, newId('led'), who.requestId, who.actor,
  ];
}

const JOB_COLUMNS = Object.entries(getTableColumns(jobs));

/** A `jobs` row as node-postgres returns it (snake_case, bigint as text) → JobRow, by the schema's own column mappings. */
function jobFromDriver(raw: Record<string, unknown>): JobRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of JOB_COLUMNS) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as unknown as JobRow;
}

export function pgBillingStore({ db, pool }: PgDatabase): BillingStore {
  // One per create, after the upstream answered: a named prepared statement.
  const recordSubmittedStmt = db
    .update(jobs)
    .set({
      videoId: sql`${sql.placeholder('videoId')}`,
      status: sql`${sql.placeholder('status')}`,
      progress: sql`${sql.placeholder('progress')}::integer`,
      upstreamRequestId: sql`${sql.placeholder('upstreamRequestId')}`,
      nextPollAt: sql`${sql.placeholder('nextPollAt')}::bigint`,
      updatedAt: sql`${sql.placeholder('now')}::bigint`,
    })
    .where(and(eq(jobs.id, sql.placeholder('jobId')), eq(jobs.status, 'pending')))
    .returning()
    .prepare('jobs_record_submitted');
  return {
    /**
     * Reserves the price on the key and writes the pending job, or refuses. The hold itself is one
     * statement (PLACE_HOLD_SQL): the conditional UPDATE of the key keeps concurrent holds within
     * the balance (at READ COMMITTED PostgreSQL re-checks its WHERE against the newest version of a
     * row a concurrent hold changed), and the job and its ledger entry are written only when it
     * matched. Without an in-flight limit that statement is the whole unit: one round trip instead
     * of five. With one, the key row is locked first (FOR NO KEY UPDATE: the lock the UPDATE takes
     * anyway, which unlike FOR UPDATE does not hold up inserts whose foreign key points at the
     * key), so the count of open jobs that follows sees every earlier hold of this key committed (a
     * count taken before the lock admitted 22–24 jobs for a limit of 5 under concurrency). The
     * refusal reasons come in SQLite's order: the in-flight limit is checked before the balance,
     * and an unknown key is refused as insufficient_quota (its UPDATE matches no row), as on SQLite.
     */
    async placeHold(job, who, limits) {
      const values = placeHoldValues(job, who);
      const placed = (rows: Record<string, unknown>[]) =>
        rows.length === 1 ? { ok: true as const, job: jobFromDriver(rows[0]!) } : { ok: false as const, reason: 'insufficient_quota' as const };
      if (limits.maxInflightJobs === null) {
        return placed((await pool.query({ name: 'jobs_place_hold', text: PLACE_HOLD_SQL, values })).rows);
      }
      const client = await pool.connect();
      // A connection that could not begin or roll back is closed rather than pooled again.
      let broken: Error | undefined;
      try {
        await client.query('begin');
      } catch (err) {
        broken = err as Error;
        client.release(broken);
        throw err;
      }
      try {
        await client.query({ name: 'keys_lock_for_hold', text: 'select id from api_keys where id = $1 for no key update', values: [job.keyId] });
        const open = await client.query<{ n: string }>({ name: 'jobs_count_open_of_key', text: COUNT_OPEN_SQL, values: [job.keyId] });
        if (Number(open.rows[0]!.n) >= limits.maxInflightJobs) {
          await client.query('rollback');
          return { ok: false as const, reason: 'inflight_limit' as const };
        }
        const result = placed((await client.query({ name: 'jobs_place_hold', text: PLACE_HOLD_SQL, values })).rows);
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      } finally {
        client.release(broken);
      }
    },

    /**
     * The upstream accepted the create: the job gets its video id before the client hears back.
     * `duplicate` when another job already has that video id (unique violation, 23505); undefined
     * when the job is no longer pending (released meanwhile).
     */
    async recordSubmitted(jobId, s, now) {
      try {
        const [row] = await recordSubmittedStmt.execute({ ...s, jobId, now });
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
