import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the request-log units are written on their own branch.
export function pgRequestLogStore(_database: PgDatabase) {
  return {};
}
