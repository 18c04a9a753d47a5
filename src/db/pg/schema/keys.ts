import { pgTable, text, integer, bigint, boolean, jsonb, index, check } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

/**
 * PostgreSQL twin of src/db/schema/keys.ts (test/unit/schema-parity.test.ts keeps them in step).
 * Times and micro-USD are bigint: a 32-bit integer overflows. jsonb with the same $type keeps the
 * row type identical to SQLite's JSON-in-text column.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull().unique(),
    ownerId: text('owner_id'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    lastUsedAt: bigint('last_used_at', { mode: 'number' }),
    expiresAt: bigint('expires_at', { mode: 'number' }),
    disabled: boolean('disabled').notNull().default(false),
    revokedAt: bigint('revoked_at', { mode: 'number' }),
    allowedModels: jsonb('allowed_models').$type<string[] | null>(),
    rpmLimit: integer('rpm_limit'),
    maxInflightJobs: integer('max_inflight_jobs'),
    maxConcurrentDownloads: integer('max_concurrent_downloads'),
    balanceMicros: bigint('balance_micros', { mode: 'number' }).notNull().default(0),
    heldMicros: bigint('held_micros', { mode: 'number' }).notNull().default(0),
    webhookUrl: text('webhook_url'),
  },
  (t) => [
    index('api_keys_created_idx').on(t.createdAt),
    // The database itself refuses an overdraft, whatever the code above it does.
    check('api_keys_held_nonnegative', sql`${t.heldMicros} >= 0`),
    check('api_keys_balance_covers_holds', sql`${t.balanceMicros} >= ${t.heldMicros}`),
  ],
);
