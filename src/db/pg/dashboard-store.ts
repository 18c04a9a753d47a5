import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the dashboard units are written on their own branch.
export function pgDashboardStore(_database: PgDatabase) {
  return {};
}
