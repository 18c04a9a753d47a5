import type { PgDatabase } from './client.js';

// Placeholder on the pg-base branch: the characters units are written on their own branch.
export function pgCharactersStore(_database: PgDatabase) {
  return {};
}
