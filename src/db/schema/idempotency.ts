import { sqliteTable, text, integer, primaryKey } from 'drizzle-orm/sqlite-core';

/** Idempotency-Key records, scoped per API key; replayed for 24 h. */
export const idempotencyKeys = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
    /** The instance serving the request while `in_flight`: the claim is abandoned once it is dead. */
    instanceId: text('instance_id'),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.idemKey] })],
);
