import { desc, lt } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { auditLog } from './schema/index.js';
import { newId } from '../ids.js';

export type AuditRow = typeof auditLog.$inferSelect;

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
  };
}
