import { and, desc, eq } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { characters } from './schema/index.js';
import type { CharactersStore } from '../../store/store.js';

/** Characters on PostgreSQL; the same units as src/db/characters-store.ts. */
export function pgCharactersStore({ db }: PgDatabase): CharactersStore {
  return {
    async recordCharacter(c) {
      await db.insert(characters).values(c).onConflictDoNothing();
    },
    async getCharacter(id, keyId) {
      const [row] = await db
        .select()
        .from(characters)
        .where(and(eq(characters.id, id), keyId === undefined ? undefined : eq(characters.keyId, keyId)))
        .orderBy(desc(characters.createdAt))
        .limit(1);
      return row;
    },
  };
}
