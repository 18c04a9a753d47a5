import { defineConfig } from 'drizzle-kit';

// SQLite (the embedded default). PostgreSQL has its own config: drizzle.pg.config.ts.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema/index.ts',
  out: './migrations/sqlite',
});
