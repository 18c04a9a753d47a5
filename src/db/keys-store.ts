import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { apiKeys } from './schema/index.js';

export type KeyRow = typeof apiKeys.$inferSelect;

export interface NewKey {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  maxInflightJobs: number | null;
}

export type KeyPatch = Partial<Pick<KeyRow, 'name' | 'expiresAt' | 'disabled' | 'allowedModels' | 'rpmLimit' | 'maxInflightJobs'>>;

export function keysStore({ db }: Database_) {
  const byHash = db.select().from(apiKeys).where(eq(apiKeys.hash, sql.placeholder('hash'))).prepare();
  const byId = db.select().from(apiKeys).where(eq(apiKeys.id, sql.placeholder('id'))).prepare();
  const touch = db
    .update(apiKeys)
    .set({ lastUsedAt: sql`max(coalesce(${apiKeys.lastUsedAt}, 0), ${sql.placeholder('at')})` })
    .where(eq(apiKeys.id, sql.placeholder('id')))
    .prepare();

  return {
    insertKey(key: NewKey): KeyRow {
      db.insert(apiKeys).values(key).run();
      return byId.get({ id: key.id })!;
    },
    findKeyByHash(hash: string): KeyRow | undefined {
      return byHash.get({ hash });
    },
    getKey(id: string): KeyRow | undefined {
      return byId.get({ id });
    },
    listKeys(opts: { after?: string; limit: number }): KeyRow[] {
      return db
        .select()
        .from(apiKeys)
        .where(opts.after ? gt(apiKeys.id, opts.after) : undefined)
        .orderBy(asc(apiKeys.id))
        .limit(opts.limit)
        .all();
    },
    updateKey(id: string, patch: KeyPatch): KeyRow | undefined {
      if (Object.keys(patch).length > 0) db.update(apiKeys).set(patch).where(eq(apiKeys.id, id)).run();
      return byId.get({ id });
    },
    revokeKey(id: string, now: number): KeyRow | undefined {
      db.update(apiKeys).set({ revokedAt: now }).where(and(eq(apiKeys.id, id), sql`${apiKeys.revokedAt} is null`)).run();
      return byId.get({ id });
    },
    /** last_used_at is refreshed in batches with the request log, never on the hot path. */
    touchKeys(lastUsed: Map<string, number>): void {
      for (const [id, at] of lastUsed) touch.run({ id, at });
    },
  };
}
