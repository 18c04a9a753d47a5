import { sqliteTable, text, integer, primaryKey, index } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.js';

/**
 * Characters created through reelay, so a key can only read its own (like videos). Their ids are
 * unique per upstream, not globally (two providers may hand out the same id).
 */
export const characters = sqliteTable('characters', {
  id: text('id').notNull(),
  keyId: text('key_id').notNull().references(() => apiKeys.id),
  requestId: text('request_id').notNull(),
  /** The upstream that created the character: reads of it go there. */
  upstreamId: text('upstream_id').notNull().default('default'),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.upstreamId, t.id] }), index('characters_id_key_idx').on(t.id, t.keyId)]);
