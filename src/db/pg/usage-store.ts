import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the usage units are written on their own branch.
export function pgUsageStore(_database: PgDatabase) {
  return {};
}
