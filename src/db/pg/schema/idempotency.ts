import { pgTable, text, integer, bigint, primaryKey } from 'drizzle-orm/pg-core';

/** PostgreSQL twin of src/db/schema/idempotency.ts. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    keyId: text('key_id').notNull(),
    idemKey: text('idem_key').notNull(),
    route: text('route').notNull(),
    bodyHash: text('body_hash').notNull(),
    state: text('state', { enum: ['in_flight', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseHeaders: text('response_headers'),
    responseBody: text('response_body'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    instanceId: text('instance_id'),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.idemKey] })],
);
