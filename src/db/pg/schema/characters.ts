import { pgTable, text, bigint, primaryKey, index } from 'drizzle-orm/pg-core';
import { apiKeys } from './keys.js';

/** PostgreSQL twin of src/db/schema/characters.ts. */
export const characters = pgTable('characters', {
  id: text('id').notNull(),
  keyId: text('key_id').notNull().references(() => apiKeys.id),
  requestId: text('request_id').notNull(),
  /** The upstream that created the character: reads of it go there. */
  upstreamId: text('upstream_id').notNull().default('default'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
}, (t) => [primaryKey({ columns: [t.upstreamId, t.id] }), index('characters_id_key_idx').on(t.id, t.keyId)]);
