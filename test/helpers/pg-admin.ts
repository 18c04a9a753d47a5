/** Small helpers for managing databases on the test PostgreSQL server. */
import pg from 'pg';

/** The same server and credentials as `serverUrl`, another database. */
export function databaseUrl(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One statement on its own connection (CREATE/DROP DATABASE cannot run in a transaction or pool). */
export async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
