import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e tests spawn servers and child processes; keep the 2-core machine from thrashing
    maxWorkers: 2,
    // One PostgreSQL server for the run (embedded, or TEST_DATABASE_URL) and a migrated template
    // database that test files clone: see test/helpers/pg.ts.
    globalSetup: ['test/helpers/pg-global-setup.ts'],
  },
});
