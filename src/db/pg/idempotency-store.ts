import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the idempotency units are written on their own branch.
export function pgIdempotencyStore(_database: PgDatabase) {
  return {};
}
