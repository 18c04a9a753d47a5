/**
 * A PostgreSQL database of its own for a test file: `freshPgDatabase()` clones the run's migrated
 * template (see pg-global-setup.ts); `emptyPgDatabase()` is an unmigrated one, for testing the
 * migrations themselves. Drop them in afterAll.
 */
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { adminQuery, databaseUrl } from './pg-admin.js';

export interface TestPgDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function freshPgDatabase(): Promise<TestPgDatabase> {
  return create(inject('pgTemplate'));
}

export function emptyPgDatabase(): Promise<TestPgDatabase> {
  // template0 is pristine by definition, whatever has been added to template1 on a shared server.
  return create('template0');
}

async function create(template: string): Promise<TestPgDatabase> {
  const server = inject('pgServerUrl');
  const name = `reelay_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(server, `CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  return {
    name,
    url: databaseUrl(server, name),
    // FORCE ends connections a test left open (PostgreSQL 13+), so a leak cannot fail the drop.
    drop: () => adminQuery(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
