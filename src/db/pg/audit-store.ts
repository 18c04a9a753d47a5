import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { PgDatabase, PgDb } from './client.js';
import { auditLog } from './schema/index.js';
import { newId } from '../../ids.js';
import type { AuditStore } from '../../store/store.js';

/** What an audit entry is written with: the pool, or a transaction it belongs to. */
type Writer = Pick<PgDb, 'insert'>;

export interface AuditInput {
  actor: string;
  action: string;
  targetId: string | null;
  requestId: string | null;
  details: unknown;
  now: number;
}

/** Inserts one audit entry on `conn` (a transaction when the change it records is in one). */
export async function insertAudit(conn: Writer, e: AuditInput): Promise<void> {
  await conn.insert(auditLog).values({
    id: newId('aud'),
    actor: e.actor,
    action: e.action,
    targetId: e.targetId,
    requestId: e.requestId,
    details: e.details === undefined ? null : JSON.stringify(e.details),
    createdAt: e.now,
  });
}

/** The audit log on PostgreSQL; the same units as src/db/audit-store.ts. */
export function pgAuditStore({ db }: PgDatabase): AuditStore {
  return {
    async appendAudit(e) {
      await insertAudit(db, e);
    },
    async listAudit(opts) {
      return db
        .select()
        .from(auditLog)
        .where(opts.beforeSeq !== undefined ? lt(auditLog.seq, opts.beforeSeq) : undefined)
        .orderBy(desc(auditLog.seq))
        .limit(opts.limit);
    },
    async auditActions() {
      // Byte order, as SQLite's BINARY collation sorts (GROUP BY: DISTINCT would not allow the collated ORDER BY).
      const rows = await db
        .select({ action: auditLog.action })
        .from(auditLog)
        .groupBy(auditLog.action)
        .orderBy(sql`${auditLog.action} collate "C"`);
      return rows.map((r) => r.action);
    },
    async auditSeqOf(id) {
      const [row] = await db.select({ seq: auditLog.seq }).from(auditLog).where(eq(auditLog.id, id));
      return row?.seq;
    },
    async searchAudit(q) {
      return db
        .select()
        .from(auditLog)
        .where(
          and(
            q.targetId !== undefined ? eq(auditLog.targetId, q.targetId) : undefined,
            q.action !== undefined ? eq(auditLog.action, q.action) : undefined,
            q.from !== undefined ? gte(auditLog.createdAt, q.from) : undefined,
            q.to !== undefined ? lt(auditLog.createdAt, q.to) : undefined,
            q.beforeSeq !== undefined ? lt(auditLog.seq, q.beforeSeq) : undefined,
          ),
        )
        .orderBy(desc(auditLog.seq))
        .limit(q.limit);
    },
  };
}
