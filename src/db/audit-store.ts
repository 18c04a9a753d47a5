import { and, asc, desc, eq, gte, lt } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { auditLog } from './schema/index.js';
import { newId } from '../ids.js';

export type { AuditRow } from '../store/rows.js';
import type { AuditRow } from '../store/rows.js';

export function auditStore({ db }: Database_) {
  return {
    appendAudit(e: { actor: string; action: string; targetId: string | null; requestId: string | null; details: unknown; now: number }): void {
      db.insert(auditLog)
        .values({
          id: newId('aud'),
          actor: e.actor,
          action: e.action,
          targetId: e.targetId,
          requestId: e.requestId,
          details: e.details === undefined ? null : JSON.stringify(e.details),
          createdAt: e.now,
        })
        .run();
    },
    listAudit(opts: { beforeSeq?: number; limit: number }): AuditRow[] {
      return db
        .select()
        .from(auditLog)
        .where(opts.beforeSeq !== undefined ? lt(auditLog.seq, opts.beforeSeq) : undefined)
        .orderBy(desc(auditLog.seq))
        .limit(opts.limit)
        .all();
    },
    /** The actions recorded so far (the dashboard's action filter). */
    auditActions(): string[] {
      return db.selectDistinct({ action: auditLog.action }).from(auditLog).orderBy(asc(auditLog.action)).all().map((r) => r.action);
    },
    /** The append sequence of an audit entry (the list cursor), or undefined. */
    auditSeqOf(id: string): number | undefined {
      return db.select({ seq: auditLog.seq }).from(auditLog).where(eq(auditLog.id, id)).get()?.seq;
    },
    /** Newest first, with optional filters; `from` inclusive, `to` exclusive (ms). */
    searchAudit(q: { targetId?: string; action?: string; from?: number; to?: number; beforeSeq?: number; limit: number }): AuditRow[] {
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
        .limit(q.limit)
        .all();
    },
  };
}
