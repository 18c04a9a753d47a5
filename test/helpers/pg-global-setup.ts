/**
 * vitest globalSetup: one PostgreSQL server for the whole run, and a template database migrated
 * with migrations/pg that test files clone (test/helpers/pg.ts), so each file gets its own empty,
 * migrated database in milliseconds. TEST_DATABASE_URL points the run at an existing server
 * instead (its user needs CREATEDB); otherwise an embedded server is started. If neither works the
 * run fails here, loudly: PostgreSQL tests are never skipped.
 */
import type { TestProject } from 'vitest/node';
import { randomBytes } from 'node:crypto';
import { openPgDatabase, migratePg } from '../../src/db/pg/client.js';
import { startEmbeddedPg } from './pg-server.js';
import { adminQuery, databaseUrl } from './pg-admin.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the server's maintenance database (CREATE/DROP DATABASE run there). */
    pgServerUrl: string;
    /** Name of the migrated template database to clone. */
    pgTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL;
  const server = external ? { url: external, stop: async () => {} } : await startEmbeddedPg();
  // Unique per run, so two runs sharing one TEST_DATABASE_URL server do not collide.
  const template = `reelay_template_${randomBytes(4).toString('hex')}`;
  try {
    await adminQuery(server.url, `CREATE DATABASE "${template}"`);
    const database = openPgDatabase(databaseUrl(server.url, template), { max: 1 });
    try {
      await migratePg(database.pool);
    } finally {
      // A template cannot be cloned while anyone is connected to it.
      await database.close();
    }
  } catch (err) {
    await server.stop();
    throw new Error(`PostgreSQL test setup failed on ${redact(server.url)}: ${(err as Error).message}`, { cause: err });
  }
  project.provide('pgServerUrl', server.url);
  project.provide('pgTemplate', template);
  return async () => {
    if (external) await adminQuery(server.url, `DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await server.stop();
  };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
