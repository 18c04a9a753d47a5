import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the admin units are written on their own branch.
export function pgAdminStore(_database: PgDatabase) {
  return {};
}
