import { and, asc, count, desc, eq, gt, inArray, lt, or, sql } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { apiKeys, jobs } from './schema/index.js';
import { creditIn } from './billing-store.js';
import { insertAudit } from './audit-store.js';
import { applyWebhookUrl } from './webhooks-store.js';
import { OPEN_STATUSES } from '../../store/rows.js';
import type { KeysStore } from '../../store/store.js';

/** `%` and `_` typed by the operator are literal characters, not wildcards. */
const likeEscaped = (q: string) => q.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/**
 * API keys on PostgreSQL; the same units as src/db/keys-store.ts and the key units composed in
 * src/db/store.ts (create with credit and audit, update and revoke with audit: one transaction).
 *
 * Text is ordered and compared with the "C" collation, i.e. by bytes as SQLite's BINARY does,
 * whatever the database's locale: names and ids sort the same on both engines, and id cursors
 * (`after`) page the same way.
 *
 * No key-auth cache here: SQLite's is an in-process cache that this process's own writes drop,
 * which is not correct across instances sharing one database; findKeyForAuth reads the row.
 */
export function pgKeysStore({ db }: PgDatabase): KeysStore {
  const byId = (id: string) => db.select().from(apiKeys).where(eq(apiKeys.id, id)).then((rows) => rows[0]);
  const byHash = (hash: string) => db.select().from(apiKeys).where(eq(apiKeys.hash, hash)).then((rows) => rows[0]);
  const idC = sql`${apiKeys.id} collate "C"`;
  const nameC = sql`${apiKeys.name} collate "C"`;

  // Read before every billable POST's body (early refusal): a named prepared statement, parsed
  // and planned once per connection.
  const headroomStmt = db
    .select({ available: sql`${apiKeys.balanceMicros} - ${apiKeys.heldMicros}`.mapWith(Number) })
    .from(apiKeys)
    .where(eq(apiKeys.id, sql.placeholder('keyId')))
    .prepare('keys_headroom');
  return {
    async createKey(key, with_) {
      return db.transaction(async (tx) => {
        const [row] = await tx.insert(apiKeys).values(key).returning();
        const issued = key.webhookUrl ? await applyWebhookUrl(tx, key.id, key.webhookUrl, with_?.webhookSecret, key.createdAt) : undefined;
        if (with_?.credit && with_.credit.micros !== 0) await creditIn(tx, key.id, with_.credit.micros, with_.credit.note, with_.who);
        if (with_?.audit) await insertAudit(tx, { ...with_.who, ...with_.audit });
        const after = !with_?.credit || with_.credit.micros === 0 ? row : (await tx.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0];
        return issued === undefined ? after : { ...after, issuedWebhookSecret: issued };
      });
    },
    findKeyByHash: byHash,
    findKeyForAuth: byHash,
    getKey: byId,
    async listKeys(opts) {
      return db
        .select()
        .from(apiKeys)
        .where(opts.after ? sql`${idC} > ${opts.after}` : undefined)
        .orderBy(asc(idC))
        .limit(opts.limit);
    },
    async listKeyNames() {
      return db
        .select({ id: apiKeys.id, name: apiKeys.name, revokedAt: apiKeys.revokedAt })
        .from(apiKeys)
        .orderBy(asc(nameC), asc(idC));
    },
    async searchKeys(s) {
      const available = sql<number>`(${apiKeys.balanceMicros} - ${apiKeys.heldMicros})`;
      // SQLite's LIKE ignores ASCII case; ILIKE is PostgreSQL's equivalent.
      const where = and(
        s.q ? or(sql`${apiKeys.name} ilike ${`%${likeEscaped(s.q)}%`} escape '\\'`, sql`${apiKeys.id} ilike ${`${likeEscaped(s.q)}%`} escape '\\'`) : undefined,
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
      const col = s.sort === 'name' ? nameC : s.sort === 'created' ? apiKeys.createdAt : s.sort === 'available' ? available : apiKeys.lastUsedAt;
      // never-used keys sort last whichever the direction (as on SQLite, where NULLs sort first ascending)
      const nullsLast = s.sort === 'last_used' ? [sql`${apiKeys.lastUsedAt} is null`] : [];
      const [rows, [{ n }]] = await Promise.all([
        db
          .select()
          .from(apiKeys)
          .where(where)
          .orderBy(...nullsLast, dir(col), asc(idC))
          .limit(s.limit)
          .offset(s.offset),
        db.select({ n: count() }).from(apiKeys).where(where),
      ]);
      return { rows, total: n };
    },
    /**
     * A fresh read of a key's available balance and, when asked, its open jobs. Advisory only:
     * placeHold is the check that counts.
     */
    async keyHeadroom(keyId, countOpenJobs) {
      const [key] = await headroomStmt.execute({ keyId });
      let openJobs = 0;
      if (countOpenJobs) {
        const [{ n }] = await db
          .select({ n: count() })
          .from(jobs)
          .where(and(eq(jobs.keyId, keyId), inArray(jobs.status, [...OPEN_STATUSES])));
        openJobs = n;
      }
      return { availableMicros: key?.available ?? 0, openJobs };
    },
    async updateKey(id, patch, audit, webhookSecret) {
      return db.transaction(async (tx) => {
        let row;
        if (Object.keys(patch).length > 0) [row] = await tx.update(apiKeys).set(patch).where(eq(apiKeys.id, id)).returning();
        else [row] = await tx.select().from(apiKeys).where(eq(apiKeys.id, id));
        if (!row) return undefined;
        // The UPDATE above locked the key row: two changes of one key cannot both issue a secret.
        const issued = patch.webhookUrl !== undefined ? await applyWebhookUrl(tx, id, patch.webhookUrl, webhookSecret, audit?.who.now ?? Date.now()) : undefined;
        if (audit) await insertAudit(tx, { ...audit.who, ...audit.entry });
        return issued === undefined ? row : { ...row, issuedWebhookSecret: issued };
      });
    },
    /** Revokes once (a second revoke keeps the first time) and returns the row, as on SQLite. */
    async revokeKey(id, now, audit) {
      return db.transaction(async (tx) => {
        await tx.update(apiKeys).set({ revokedAt: now }).where(and(eq(apiKeys.id, id), sql`${apiKeys.revokedAt} is null`));
        const [row] = await tx.select().from(apiKeys).where(eq(apiKeys.id, id));
        if (row && audit) await insertAudit(tx, { ...audit.who, ...audit.entry });
        return row;
      });
    },
    /**
     * Last-use times, in one statement; a time never moves back. The rows are locked in id order
     * first, so two instances touching overlapping keys cannot deadlock each other.
     */
    async touchKeys(lastUsed) {
      if (lastUsed.size === 0) return;
      const ids = [...lastUsed.keys()];
      const ats = ids.map((id) => lastUsed.get(id)!);
      await db.transaction(async (tx) => {
        await tx.execute(sql`select 1 from ${apiKeys} where ${apiKeys.id} = any(${sql.param(ids)}::text[]) order by ${idC} for update`);
        await tx.execute(sql`
          update ${apiKeys} set last_used_at = greatest(coalesce(${apiKeys.lastUsedAt}, 0), v.at)
          from unnest(${sql.param(ids)}::text[], ${sql.param(ats)}::bigint[]) as v(id, at)
          where ${apiKeys.id} = v.id`);
      });
    },
  };
}
