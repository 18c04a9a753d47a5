import { pgTable, text, bigint, boolean, index, uniqueIndex, check } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { apiKeys } from './keys.js';
import { jobs } from './jobs.js';

/**
 * PostgreSQL twin of src/db/schema/ledger.ts. The partial unique indexes are what make a second
 * settlement or a second hold of one job impossible; their predicates are written per dialect
 * (`terminal` is a real boolean here, 0/1 in SQLite).
 */
export const ledger = pgTable(
  'ledger',
  {
    // By default (not always) so `db copy` can carry SQLite's seq values over as they are.
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    id: text('id').notNull().unique(),
    kind: text('kind', { enum: ['credit', 'hold', 'capture', 'release', 'adjustment'] }).notNull(),
    amountMicros: bigint('amount_micros', { mode: 'number' }).notNull(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    jobId: text('job_id').references(() => jobs.id),
    terminal: boolean('terminal').notNull().default(false),
    requestId: text('request_id'),
    actor: text('actor').notNull(),
    note: text('note'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    uniqueIndex('ledger_one_settlement_per_job').on(t.jobId).where(sql`terminal`),
    uniqueIndex('ledger_one_hold_per_job').on(t.jobId).where(sql`kind = 'hold'`),
    index('ledger_key_idx').on(t.keyId, t.seq),
    index('ledger_created_idx').on(t.createdAt),
    index('ledger_job_idx').on(t.jobId),
    check('ledger_amount_positive', sql`${t.amountMicros} > 0`),
  ],
);
