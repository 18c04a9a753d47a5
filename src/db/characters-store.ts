import { and, desc, eq } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { characters } from './schema/index.js';

export type { CharacterRow } from '../store/rows.js';
import type { CharacterRow } from '../store/rows.js';

export function charactersStore({ db }: Database_) {
  return {
    recordCharacter(c: Omit<CharacterRow, 'upstreamId'> & { upstreamId?: string }): void {
      db.insert(characters).values(c).onConflictDoNothing().run();
    },
    getCharacter(id: string, keyId?: string): CharacterRow | undefined {
      return db
        .select()
        .from(characters)
        .where(and(eq(characters.id, id), keyId === undefined ? undefined : eq(characters.keyId, keyId)))
        .orderBy(desc(characters.createdAt))
        .limit(1)
        .get();
    },
  };
}
