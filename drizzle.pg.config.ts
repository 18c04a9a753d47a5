import { defineConfig } from 'drizzle-kit';

// PostgreSQL. Generating migrations needs no live database; the schema is kept in step with the
// SQLite one by test/unit/schema-parity.test.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/pg/schema/index.ts',
  out: './migrations/pg',
});
