import { pgTable, text, bigint } from 'drizzle-orm/pg-core';
import { apiKeys } from './keys.js';

/** PostgreSQL twin of src/db/schema/characters.ts. */
export const characters = pgTable('characters', {
  id: text('id').primaryKey(),
  keyId: text('key_id').notNull().references(() => apiKeys.id),
  requestId: text('request_id').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});
