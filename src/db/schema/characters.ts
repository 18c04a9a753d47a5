import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.js';

/** Characters created through reelay, so a key can only read its own (like videos). */
export const characters = sqliteTable('characters', {
  id: text('id').primaryKey(),
  keyId: text('key_id').notNull().references(() => apiKeys.id),
  requestId: text('request_id').notNull(),
  /** The upstream that created the character: reads of it go there. */
  upstreamId: text('upstream_id').notNull().default('default'),
  createdAt: integer('created_at').notNull(),
});
