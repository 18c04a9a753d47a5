import { sqliteTable, text, integer, index, check } from 'drizzle-orm/sqlite-core';
import { sql } from 'drizzle-orm';

/**
 * API keys. `balance_micros` and `held_micros` are a materialised view of the ledger, updated in
 * the same transaction as every ledger entry, so a hold can be placed with one conditional UPDATE.
 */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull().unique(),
    ownerId: text('owner_id'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    expiresAt: integer('expires_at'),
    disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
    revokedAt: integer('revoked_at'),
    allowedModels: text('allowed_models', { mode: 'json' }).$type<string[] | null>(),
    rpmLimit: integer('rpm_limit'),
    maxInflightJobs: integer('max_inflight_jobs'),
    /** Concurrent content downloads this key may hold open; null means the default (8). */
    maxConcurrentDownloads: integer('max_concurrent_downloads'),
    balanceMicros: integer('balance_micros').notNull().default(0),
    heldMicros: integer('held_micros').notNull().default(0),
    /** Where this key's webhook events go (contract §12); null: no endpoint. Its secrets are in webhook_secrets. */
    webhookUrl: text('webhook_url'),
  },
  (t) => [
    index('api_keys_created_idx').on(t.createdAt),
    // The database itself refuses an overdraft, whatever the code above it does.
    check('api_keys_held_nonnegative', sql`${t.heldMicros} >= 0`),
    check('api_keys_balance_covers_holds', sql`${t.balanceMicros} >= ${t.heldMicros}`),
  ],
);
