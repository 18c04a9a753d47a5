import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the billing units are written on their own branch.
export function pgBillingStore(_database: PgDatabase) {
  return {};
}
