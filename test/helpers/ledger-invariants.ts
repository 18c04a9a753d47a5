import type Database from 'better-sqlite3';
import type { Store } from '../../src/store/store.js';
import { ledgerCheck } from '../../src/db/ledger-check.js';

/**
 * The ledger invariants that do not hold (empty when all hold), checked by the store's own
 * checker (ReportsStore.ledgerViolations, on either engine) straight from the tables, independently
 * of the application code: balance = credits − adjustments − captures; held = holds − captures −
 * releases; available ≥ 0; every settled job's hold is fully captured or released; open jobs have
 * no settlement; at most one terminal entry per job.
 */
export function ledgerViolations(store: Pick<Store, 'ledgerViolations'>): Promise<string[]> {
  return store.ledgerViolations();
}

/**
 * The SQLite checker over a bare connection, e.g. a read-only one opened on the file of a server
 * that crashed: only the checker's statements are prepared, nothing is written.
 */
export function sqliteLedgerChecker(sqlite: Database.Database): Pick<Store, 'ledgerViolations'> {
  const check = ledgerCheck({ sqlite });
  return { ledgerViolations: async () => check.ledgerViolations() };
}
