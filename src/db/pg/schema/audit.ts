import { pgTable, text, bigint, index } from 'drizzle-orm/pg-core';

/** PostgreSQL twin of src/db/schema/audit.ts. */
export const auditLog = pgTable(
  'audit_log',
  {
    // By default (not always) so `db copy` can carry SQLite's seq values over as they are.
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    id: text('id').notNull().unique(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    targetId: text('target_id'),
    requestId: text('request_id'),
    details: text('details'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('audit_created_idx').on(t.createdAt)],
);
