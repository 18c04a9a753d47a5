import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the audit units are written on their own branch.
export function pgAuditStore(_database: PgDatabase) {
  return {};
}
