/**
 * newTestDatabase(engine): a TestDatabase (test-database.ts) inside a vitest run: a SQLite file in
 * a temporary directory, or a database of its own on the run's PostgreSQL server cloned from the
 * migrated template (see pg-global-setup.ts). Remove it in afterAll.
 */
import { inject } from 'vitest';
import { pgTestDatabase, sqliteTestDatabase, type EngineName, type TestDatabase } from './test-database.js';

export type { EngineName, TestDatabase, DatabaseReader } from './test-database.js';

export const ENGINE_NAMES: EngineName[] = ['sqlite', 'postgres'];

export function newTestDatabase(engine: EngineName, prefix?: string): Promise<TestDatabase> {
  return engine === 'sqlite' ? Promise.resolve(sqliteTestDatabase(prefix)) : pgTestDatabase(inject('pgServerUrl'), inject('pgTemplate'));
}
