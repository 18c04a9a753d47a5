import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the jobs units are written on their own branch.
export function pgJobsStore(_database: PgDatabase) {
  return {};
}
