import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/** Audit trail of admin changes (who, when, which request, what changed). */
export const auditLog = sqliteTable(
  'audit_log',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull().unique(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    targetId: text('target_id'),
    requestId: text('request_id'),
    details: text('details'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('audit_created_idx').on(t.createdAt)],
);
