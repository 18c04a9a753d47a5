import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

/**
 * Each upstream's health (contract §10), shared by every instance on the database: consecutive
 * failed creates, the cooldown (its end and its current length, which doubles per failed trial),
 * the trial create one instance has claimed after a cooldown, the last error, and an admin's
 * manual enable/disable (null: as the file says), which nothing undoes automatically.
 * A row exists once something happened to the upstream; no row means healthy and as configured.
 */
export const upstreamHealth = sqliteTable('upstream_health', {
  id: text('id').primaryKey(),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  cooldownUntil: integer('cooldown_until'),
  cooldownMs: integer('cooldown_ms').notNull().default(0),
  trialUntil: integer('trial_until'),
  lastError: text('last_error'),
  lastErrorAt: integer('last_error_at'),
  manualEnabled: integer('manual_enabled', { mode: 'boolean' }),
  manualBy: text('manual_by'),
  updatedAt: integer('updated_at').notNull(),
});
