import type { PgDatabase } from './client.js';
import { violationsOf, type JobLedgerSums, type KeyLedgerSums } from '../ledger-check.js';

/**
 * The ledger invariants checker on PostgreSQL (twin of src/db/ledger-check.ts, same messages):
 * read in one REPEATABLE READ, READ ONLY transaction, so both queries see one snapshot while
 * other instances write. Sums come back from node-postgres as strings and are converted here.
 */
const KEYS_SQL = `
  select k.id, k.balance_micros as balance, k.held_micros as held,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'credit'), 0) as credit,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'adjustment'), 0) as adjustment,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'hold'), 0) as hold,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'capture'), 0) as capture,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'release'), 0) as release
  from api_keys k left join ledger l on l.key_id = k.id
  group by k.id order by k.id collate "C"`;

const JOBS_SQL = `
  select j.id, j.status, j.held_micros as held, j.charged_micros as charged,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'hold'), 0) as holds,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'capture'), 0) as captures,
    coalesce(sum(l.amount_micros) filter (where l.kind = 'release'), 0) as releases,
    count(*) filter (where l.terminal) as terminals
  from jobs j left join ledger l on l.job_id = j.id
  group by j.id order by j.id collate "C"`;

export function pgLedgerCheck({ pool }: PgDatabase) {
  return {
    /** The ledger invariants that do not hold, as messages; empty when all hold. */
    async ledgerViolations(): Promise<string[]> {
      const client = await pool.connect();
      let failed = false;
      try {
        await client.query('begin isolation level repeatable read read only');
        const keys = (await client.query(KEYS_SQL)).rows;
        const jobs = (await client.query(JOBS_SQL)).rows;
        await client.query('commit');
        return violationsOf(
          keys.map((k): KeyLedgerSums => ({
            id: k.id,
            balance: Number(k.balance),
            held: Number(k.held),
            credit: Number(k.credit),
            adjustment: Number(k.adjustment),
            hold: Number(k.hold),
            capture: Number(k.capture),
            release: Number(k.release),
          })),
          jobs.map((j): JobLedgerSums => ({
            id: j.id,
            status: j.status,
            held: Number(j.held),
            charged: Number(j.charged),
            holds: Number(j.holds),
            captures: Number(j.captures),
            releases: Number(j.releases),
            terminals: Number(j.terminals),
          })),
        );
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        // After a failure the session's state is unknown: close the connection rather than pool it.
        client.release(failed);
      }
    },
  };
}
