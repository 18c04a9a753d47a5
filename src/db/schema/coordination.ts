import { sqliteTable, text, integer, primaryKey, index } from 'drizzle-orm/sqlite-core';

/**
 * State that several reelay processes on one database share, so that none of them assumes it is
 * alone (design.md, "No process may assume it is alone").
 */

/** One row per reelay process that has run: liveness is its heartbeat, not its boot time. */
export const instances = sqliteTable('instances', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  version: text('version').notNull(),
  startedAt: integer('started_at').notNull(),
  heartbeatAt: integer('heartbeat_at').notNull(),
  /** Set on a clean shutdown: the instance is dead from then on, without waiting for its heartbeat to age. */
  stoppedAt: integer('stopped_at'),
});

/**
 * Dashboard sessions, valid on every instance. `id` is the SHA-256 of the cookie's token (the token
 * itself is never stored); `flash` is a JSON array of messages for the next page; `reveal_once`
 * holds a new key's secret until the next view of that key, encrypted with a key derived from the
 * session token, so the database alone cannot read it.
 */
export const adminSessions = sqliteTable(
  'admin_sessions',
  {
    id: text('id').primaryKey(),
    csrf: text('csrf').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    flash: text('flash').notNull().default('[]'),
    revealOnce: text('reveal_once'),
  },
  (t) => [index('admin_sessions_expires_idx').on(t.expiresAt)],
);

/** Wrong admin tokens, one row per failure, per client address (the login throttle of every instance). */
export const authFailures = sqliteTable(
  'auth_failures',
  {
    address: text('address').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('auth_failures_address_at_idx').on(t.address, t.at), index('auth_failures_at_idx').on(t.at)],
);

/** Requests per key per one-minute window, counted by every instance together (rpm limits). */
export const rateWindows = sqliteTable(
  'rate_windows',
  {
    keyId: text('key_id').notNull(),
    windowStart: integer('window_start').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.windowStart] }), index('rate_windows_window_idx').on(t.windowStart)],
);
