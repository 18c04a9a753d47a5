import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the keys units are written on their own branch.
export function pgKeysStore(_database: PgDatabase) {
  return {};
}
