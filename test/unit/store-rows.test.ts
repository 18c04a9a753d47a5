import { describe, expect, it } from 'vitest';
import { getTableColumns } from 'drizzle-orm';
import * as sqlite from '../../src/db/schema/index.js';
import type * as rows from '../../src/store/rows.js';

/**
 * The store's engine-neutral row types are exactly what the SQLite schema reads and writes. The
 * type assertions below are checked by `tsc --noEmit` (the first half of `npm test`): a column
 * added to the schema but not to the row type, or the other way round, fails compilation.
 */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(ok: Equals<A, B>) => ok;

describe('store row types', () => {
  it('match the SQLite schema, table by table', () => {
    const checks = [
      same<rows.KeyRow, typeof sqlite.apiKeys.$inferSelect>(true),
      same<rows.JobRow, typeof sqlite.jobs.$inferSelect>(true),
      same<rows.LedgerRow, typeof sqlite.ledger.$inferSelect>(true),
      same<rows.AuditRow, typeof sqlite.auditLog.$inferSelect>(true),
      same<rows.CharacterRow, typeof sqlite.characters.$inferSelect>(true),
      same<rows.IdempotencyRow, typeof sqlite.idempotencyKeys.$inferSelect>(true),
      same<rows.StoredRequestLogRow, typeof sqlite.requestLog.$inferSelect>(true),
      same<rows.RequestLogRow, typeof sqlite.requestLog.$inferInsert>(true),
      same<rows.InstanceRow, typeof sqlite.instances.$inferSelect>(true),
      same<rows.AdminSessionRow, typeof sqlite.adminSessions.$inferSelect>(true),
      same<rows.WebhookSecretRow, typeof sqlite.webhookSecrets.$inferSelect>(true),
      same<rows.WebhookEventRow, typeof sqlite.webhookEvents.$inferSelect>(true),
      same<rows.WebhookAttemptRow, typeof sqlite.webhookAttempts.$inferSelect>(true),
      same<rows.ArchiveTaskRow, typeof sqlite.archiveTasks.$inferSelect>(true),
      same<rows.UpstreamHealthRow, typeof sqlite.upstreamHealth.$inferSelect>(true),
    ];
    expect(checks.every(Boolean)).toBe(true);
    // And at run time: the same column names (types are the compiler's part).
    expect(Object.keys(getTableColumns(sqlite.jobs)).sort()).toContain('outputSeconds');
  });
});
