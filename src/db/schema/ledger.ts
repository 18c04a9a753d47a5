import { sqliteTable, text, integer, index, uniqueIndex, check } from 'drizzle-orm/sqlite-core';
import { sql } from 'drizzle-orm';
import { apiKeys } from './keys.js';
import { jobs } from './jobs.js';

/**
 * Append-only money movements. `amount_micros` is always positive; `kind` says which way it moves.
 * `terminal` marks the one entry that settles a job (its capture, or its release when nothing is
 * charged); the partial unique index makes a second settlement of the same job impossible.
 */
export const ledger = sqliteTable(
  'ledger',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull().unique(),
    kind: text('kind', { enum: ['credit', 'hold', 'capture', 'release', 'adjustment'] }).notNull(),
    amountMicros: integer('amount_micros').notNull(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    jobId: text('job_id').references(() => jobs.id),
    terminal: integer('terminal', { mode: 'boolean' }).notNull().default(false),
    requestId: text('request_id'),
    actor: text('actor').notNull(),
    note: text('note'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('ledger_one_settlement_per_job').on(t.jobId).where(sql`terminal = 1`),
    uniqueIndex('ledger_one_hold_per_job').on(t.jobId).where(sql`kind = 'hold'`),
    index('ledger_key_idx').on(t.keyId, t.seq),
    index('ledger_created_idx').on(t.createdAt),
    index('ledger_job_idx').on(t.jobId),
    check('ledger_amount_positive', sql`${t.amountMicros} > 0`),
  ],
);
