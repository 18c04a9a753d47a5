import { and, asc, count, desc, eq, gt, lt, or, sql } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { apiKeys } from './schema/index.js';

export type { KeyRow } from '../store/rows.js';
export type { NewKey, KeyPatch } from '../store/types.js';
import type { KeyRow } from '../store/rows.js';
import type { NewKey, KeyPatch } from '../store/types.js';

/** The dashboard's keys list: search by name or id prefix, sort, offset paging. */
export type KeySort = 'name' | 'created' | 'available' | 'last_used';
export interface KeySearch {
  q?: string;
  sort: KeySort;
  dir: 'asc' | 'desc';
  /** only keys whose available balance is below this (micro-USD) and that are usable at `now` */
  lowBelow?: { micros: number; now: number };
  offset: number;
  limit: number;
}

/** `%` and `_` typed by the operator are literal characters, not wildcards. */
const likeEscaped = (q: string) => q.replace(/[\\%_]/g, (ch) => `\\${ch}`);


/**
 * How long an authenticated key's row may be reused without reading it again. Changes made
 * through this store (update, revoke) drop the cache at once; a change made by another process
 * on the same database (the CLI) takes effect within this time.
 */
export const KEY_AUTH_CACHE_MS = 1000;

export function keysStore({ db, withoutSync }: Database_) {
  const byHash = db.select().from(apiKeys).where(eq(apiKeys.hash, sql.placeholder('hash'))).prepare();
  const byId = db.select().from(apiKeys).where(eq(apiKeys.id, sql.placeholder('id'))).prepare();
  const touch = db
    .update(apiKeys)
    .set({ lastUsedAt: sql`max(coalesce(${apiKeys.lastUsedAt}, 0), ${sql.placeholder('at')})` })
    .where(eq(apiKeys.id, sql.placeholder('id')))
    .prepare();
  /** Rows of known keys by hash, for authentication only (unknown hashes are never cached). */
  const authCache = new Map<string, { row: KeyRow; at: number }>();

  return {
    insertKey(key: NewKey): KeyRow {
      db.insert(apiKeys).values(key).run();
      return byId.get({ id: key.id })!;
    },
    findKeyByHash(hash: string): KeyRow | undefined {
      return byHash.get({ hash });
    },
    /**
     * findKeyByHash for authenticating a request, served from a short-lived cache (see
     * KEY_AUTH_CACHE_MS): one query less per request. Its balance and last-used fields may be up
     * to that old; nothing on the request path reads them (holds are checked in the database).
     */
    findKeyForAuth(hash: string): KeyRow | undefined {
      const now = performance.now();
      const hit = authCache.get(hash);
      if (hit && now - hit.at < KEY_AUTH_CACHE_MS) return hit.row;
      const row = byHash.get({ hash });
      if (authCache.size >= 10_000) authCache.clear();
      if (row) authCache.set(hash, { row, at: now });
      else authCache.delete(hash);
      return row;
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
    /** Every key's id and name, by name: the dashboard's key pickers and name lookups. */
    listKeyNames(): { id: string; name: string; revokedAt: number | null }[] {
      return db.select({ id: apiKeys.id, name: apiKeys.name, revokedAt: apiKeys.revokedAt }).from(apiKeys).orderBy(asc(apiKeys.name), asc(apiKeys.id)).all();
    },
    searchKeys(s: KeySearch): { rows: KeyRow[]; total: number } {
      const available = sql<number>`(${apiKeys.balanceMicros} - ${apiKeys.heldMicros})`;
      const where = and(
        // name: anywhere in it; id: a prefix (ids are random, a middle part means nothing)
        s.q ? or(sql`${apiKeys.name} like ${`%${likeEscaped(s.q)}%`} escape '\\'`, sql`${apiKeys.id} like ${`${likeEscaped(s.q)}%`} escape '\\'`) : undefined,
        s.lowBelow
          ? and(
              lt(available, s.lowBelow.micros),
              sql`${apiKeys.revokedAt} is null`,
              eq(apiKeys.disabled, false),
              or(sql`${apiKeys.expiresAt} is null`, gt(apiKeys.expiresAt, s.lowBelow.now)),
            )
          : undefined,
      );
      const dir = s.dir === 'asc' ? asc : desc;
      const col = s.sort === 'name' ? apiKeys.name : s.sort === 'created' ? apiKeys.createdAt : s.sort === 'available' ? available : apiKeys.lastUsedAt;
      // never-used keys sort last whichever the direction
      const nullsLast = s.sort === 'last_used' ? [sql`${apiKeys.lastUsedAt} is null`] : [];
      const rows = db
        .select()
        .from(apiKeys)
        .where(where)
        .orderBy(...nullsLast, dir(col), asc(apiKeys.id))
        .limit(s.limit)
        .offset(s.offset)
        .all();
      const total = db.select({ n: count() }).from(apiKeys).where(where).get()?.n ?? 0;
      return { rows, total };
    },
    updateKey(id: string, patch: KeyPatch): KeyRow | undefined {
      authCache.clear();
      if (Object.keys(patch).length > 0) db.update(apiKeys).set(patch).where(eq(apiKeys.id, id)).run();
      return byId.get({ id });
    },
    revokeKey(id: string, now: number): KeyRow | undefined {
      authCache.clear();
      db.update(apiKeys).set({ revokedAt: now }).where(and(eq(apiKeys.id, id), sql`${apiKeys.revokedAt} is null`)).run();
      return byId.get({ id });
    },
    /** last_used_at is refreshed in batches with the request log, never on the hot path; best effort (see withoutSync). */
    touchKeys(lastUsed: Map<string, number>): void {
      if (lastUsed.size === 0) return;
      withoutSync(() => db.transaction(() => {
        for (const [id, at] of lastUsed) touch.run({ id, at });
      }));
    },
  };
}
