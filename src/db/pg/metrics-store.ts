import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the metrics units are written on their own branch.
export function pgMetricsStore(_database: PgDatabase) {
  return {};
}
