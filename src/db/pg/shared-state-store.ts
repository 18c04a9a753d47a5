import { and, asc, eq, gt, inArray, lt, lte, desc, sql } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { adminSessions, authFailures, rateWindows } from './schema/index.js';
import type { AdminSessionRow } from '../../store/rows.js';
import { RATE_WINDOW_MS, rateWindowAt } from '../../store/rate-window.js';

/**
 * One statement that counts the request only when the window allows it (the SQLite twin is in
 * src/db/shared-state-store.ts). Under READ COMMITTED, ON CONFLICT DO UPDATE locks the bucket's row
 * and evaluates its WHERE on the row's latest committed version, so concurrent requests from any
 * instance queue on the row and never overshoot; a bucket's first request is checked by the
 * INSERT's SELECT. Products are bigint: count × 60,000 overflows a 32-bit integer.
 */
const TAKE_SLOT = `
  INSERT INTO rate_windows (key_id, window_start, count)
  SELECT $1::text, $2::bigint, 1
  WHERE coalesce((SELECT p.count FROM rate_windows p WHERE p.key_id = $1::text AND p.window_start = $3::bigint), 0)::bigint * $4::bigint
        + $5::bigint <= $6::bigint
  ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_windows.count + 1
  WHERE coalesce((SELECT p.count FROM rate_windows p WHERE p.key_id = $1::text AND p.window_start = $3::bigint), 0)::bigint * $4::bigint
        + (rate_windows.count::bigint + 1) * $5::bigint <= $6::bigint
  RETURNING count`;

/** PostgreSQL units of the state every instance shares (see SharedStateStore in src/store/store.ts). */
export function pgSharedStateStore({ db, pool }: PgDatabase) {
  return {
    async createAdminSession(row: AdminSessionRow, maxSessions: number, now: number): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.delete(adminSessions).where(lte(adminSessions.expiresAt, now));
        const [{ n }] = (await tx.select({ n: sql<string>`count(*)` }).from(adminSessions)) as [{ n: string }];
        const excess = Number(n) - maxSessions + 1;
        if (excess > 0) {
          const oldest = tx.select({ id: adminSessions.id }).from(adminSessions).orderBy(asc(adminSessions.createdAt), asc(adminSessions.id)).limit(excess);
          await tx.delete(adminSessions).where(inArray(adminSessions.id, oldest));
        }
        await tx.insert(adminSessions).values(row);
      });
    },
    async getAdminSession(id: string, now: number): Promise<AdminSessionRow | undefined> {
      const [row] = await db.select().from(adminSessions).where(and(eq(adminSessions.id, id), gt(adminSessions.expiresAt, now)));
      return row;
    },
    async updateAdminSession(id: string, patch: { flash?: string; revealOnce?: string | null }): Promise<void> {
      const set: { flash?: string; revealOnce?: string | null } = {};
      if (patch.flash !== undefined) set.flash = patch.flash;
      if (patch.revealOnce !== undefined) set.revealOnce = patch.revealOnce;
      if (Object.keys(set).length === 0) return;
      await db.update(adminSessions).set(set).where(eq(adminSessions.id, id));
    },
    async deleteAdminSession(id: string): Promise<void> {
      await db.delete(adminSessions).where(eq(adminSessions.id, id));
    },
    async purgeAdminSessions(now: number): Promise<number> {
      return (await db.delete(adminSessions).where(lte(adminSessions.expiresAt, now))).rowCount ?? 0;
    },

    async recordAuthFailure(address: string, now: number): Promise<void> {
      await db.insert(authFailures).values({ address, at: now });
    },
    async recentAuthFailures(address: string, since: number, limit: number): Promise<number[]> {
      const rows = await db
        .select({ at: authFailures.at })
        .from(authFailures)
        .where(and(eq(authFailures.address, address), gt(authFailures.at, since)))
        .orderBy(desc(authFailures.at))
        .limit(limit);
      return rows.map((r) => r.at);
    },
    async purgeAuthFailures(before: number): Promise<number> {
      return (await db.delete(authFailures).where(lte(authFailures.at, before))).rowCount ?? 0;
    },

    async takeRateSlot(keyId: string, limitPerMinute: number, now: number): Promise<number> {
      const w = rateWindowAt(now);
      const res = await pool.query(TAKE_SLOT, [keyId, w.start, w.previousStart, w.remainingMs, RATE_WINDOW_MS, limitPerMinute * RATE_WINDOW_MS]);
      return res.rowCount === 1 ? 0 : w.retryAfterSeconds;
    },
    async purgeRateWindows(before: number): Promise<number> {
      return (await db.delete(rateWindows).where(lt(rateWindows.windowStart, before))).rowCount ?? 0;
    },
  };
}
