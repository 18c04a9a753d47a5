import { pgTable, text, integer, bigint, boolean } from 'drizzle-orm/pg-core';

/** PostgreSQL twin of src/db/schema/upstreams.ts. */
export const upstreamHealth = pgTable('upstream_health', {
  id: text('id').primaryKey(),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  cooldownUntil: bigint('cooldown_until', { mode: 'number' }),
  cooldownMs: bigint('cooldown_ms', { mode: 'number' }).notNull().default(0),
  trialUntil: bigint('trial_until', { mode: 'number' }),
  lastError: text('last_error'),
  lastErrorAt: bigint('last_error_at', { mode: 'number' }),
  manualEnabled: boolean('manual_enabled'),
  manualBy: text('manual_by'),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});
