import { pgTable, text, integer, bigint, primaryKey, index } from 'drizzle-orm/pg-core';

/** PostgreSQL twin of src/db/schema/coordination.ts (the meanings are documented there). */

export const instances = pgTable('instances', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  version: text('version').notNull(),
  startedAt: bigint('started_at', { mode: 'number' }).notNull(),
  heartbeatAt: bigint('heartbeat_at', { mode: 'number' }).notNull(),
  stoppedAt: bigint('stopped_at', { mode: 'number' }),
});

export const adminSessions = pgTable(
  'admin_sessions',
  {
    id: text('id').primaryKey(),
    csrf: text('csrf').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    flash: text('flash').notNull().default('[]'),
    revealOnce: text('reveal_once'),
  },
  (t) => [index('admin_sessions_expires_idx').on(t.expiresAt)],
);

export const authFailures = pgTable(
  'auth_failures',
  {
    address: text('address').notNull(),
    at: bigint('at', { mode: 'number' }).notNull(),
  },
  (t) => [index('auth_failures_address_at_idx').on(t.address, t.at), index('auth_failures_at_idx').on(t.at)],
);

export const rateWindows = pgTable(
  'rate_windows',
  {
    keyId: text('key_id').notNull(),
    windowStart: bigint('window_start', { mode: 'number' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.windowStart] }), index('rate_windows_window_idx').on(t.windowStart)],
);
