import { and, asc, count, eq, gt, lt, lte, desc } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { adminSessions, authFailures, rateWindows } from './schema/index.js';
import type { AdminSessionRow } from '../store/rows.js';
import { RATE_WINDOW_MS, rateWindowAt } from '../store/rate-window.js';

/**
 * SQLite units of the state every instance shares: dashboard sessions, the admin login throttle
 * and the requests-per-minute windows (see SharedStateStore in src/store/store.ts). Several
 * processes on one file share them: each unit is one statement or one BEGIN IMMEDIATE transaction.
 */
export function sharedStateStore({ db, sqlite }: Database_) {
  /**
   * One statement that counts the request only when the window allows it. The INSERT's SELECT
   * carries the check for a bucket's first request; DO UPDATE's WHERE carries it for the others,
   * evaluated under the write lock, so concurrent requests (from any connection) never overshoot.
   */
  const takeSlot = sqlite.prepare<{ keyId: string; start: number; prev: number; remaining: number; minute: number; limitScaled: number }, { count: number }>(`
    INSERT INTO rate_windows (key_id, window_start, count)
    SELECT @keyId, @start, 1
    WHERE coalesce((SELECT p.count FROM rate_windows p WHERE p.key_id = @keyId AND p.window_start = @prev), 0) * @remaining
          + @minute <= @limitScaled
    ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_windows.count + 1
    WHERE coalesce((SELECT p.count FROM rate_windows p WHERE p.key_id = @keyId AND p.window_start = @prev), 0) * @remaining
          + (rate_windows.count + 1) * @minute <= @limitScaled
    RETURNING count`);

  return {
    createAdminSession(row: AdminSessionRow, maxSessions: number, now: number): void {
      db.transaction(
        (tx) => {
          tx.delete(adminSessions).where(lte(adminSessions.expiresAt, now)).run();
          const live = tx.select({ n: count() }).from(adminSessions).get()?.n ?? 0;
          const excess = live - maxSessions + 1;
          if (excess > 0) {
            const oldest = tx.select({ id: adminSessions.id }).from(adminSessions).orderBy(asc(adminSessions.createdAt), asc(adminSessions.id)).limit(excess).all();
            for (const { id } of oldest) tx.delete(adminSessions).where(eq(adminSessions.id, id)).run();
          }
          tx.insert(adminSessions).values(row).run();
        },
        { behavior: 'immediate' },
      );
    },
    getAdminSession(id: string, now: number): AdminSessionRow | undefined {
      return db.select().from(adminSessions).where(and(eq(adminSessions.id, id), gt(adminSessions.expiresAt, now))).get();
    },
    updateAdminSession(id: string, patch: { flash?: string; revealOnce?: string | null }): void {
      const set: { flash?: string; revealOnce?: string | null } = {};
      if (patch.flash !== undefined) set.flash = patch.flash;
      if (patch.revealOnce !== undefined) set.revealOnce = patch.revealOnce;
      if (Object.keys(set).length === 0) return;
      db.update(adminSessions).set(set).where(eq(adminSessions.id, id)).run();
    },
    deleteAdminSession(id: string): void {
      db.delete(adminSessions).where(eq(adminSessions.id, id)).run();
    },
    purgeAdminSessions(now: number): number {
      return db.delete(adminSessions).where(lte(adminSessions.expiresAt, now)).run().changes;
    },

    recordAuthFailure(address: string, now: number): void {
      db.insert(authFailures).values({ address, at: now }).run();
    },
    recentAuthFailures(address: string, since: number, limit: number): number[] {
      return db
        .select({ at: authFailures.at })
        .from(authFailures)
        .where(and(eq(authFailures.address, address), gt(authFailures.at, since)))
        .orderBy(desc(authFailures.at))
        .limit(limit)
        .all()
        .map((r) => r.at);
    },
    purgeAuthFailures(before: number): number {
      return db.delete(authFailures).where(lte(authFailures.at, before)).run().changes;
    },

    takeRateSlot(keyId: string, limitPerMinute: number, now: number): number {
      const w = rateWindowAt(now);
      const row = takeSlot.get({
        keyId,
        start: w.start,
        prev: w.previousStart,
        remaining: w.remainingMs,
        minute: RATE_WINDOW_MS,
        limitScaled: limitPerMinute * RATE_WINDOW_MS,
      });
      return row ? 0 : w.retryAfterSeconds;
    },
    purgeRateWindows(before: number): number {
      return db.delete(rateWindows).where(lt(rateWindows.windowStart, before)).run().changes;
    },
  };
}
