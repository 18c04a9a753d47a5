import type { Database_ } from './client.js';

/** One key's stored totals and its ledger sums per kind (micro-USD). */
export interface KeyLedgerSums {
  id: string;
  balance: number;
  held: number;
  credit: number;
  adjustment: number;
  hold: number;
  capture: number;
  release: number;
}

/** One job's stored amounts and its ledger entries' sums, and how many of them are terminal. */
export interface JobLedgerSums {
  id: string;
  status: string;
  held: number;
  charged: number;
  holds: number;
  captures: number;
  releases: number;
  terminals: number;
}

/**
 * The ledger invariants, as messages (see ReportsStore.ledgerViolations), from the figures each
 * engine reads. Shared so both engines word every violation identically.
 */
export function violationsOf(keys: KeyLedgerSums[], jobs: JobLedgerSums[]): string[] {
  const problems: string[] = [];
  for (const k of keys) {
    const balance = k.credit - k.adjustment - k.capture;
    const held = k.hold - k.capture - k.release;
    if (balance !== k.balance) problems.push(`key ${k.id}: balance ${k.balance} but ledger says ${balance}`);
    if (held !== k.held) problems.push(`key ${k.id}: held ${k.held} but ledger says ${held}`);
    if (k.balance - k.held < 0) problems.push(`key ${k.id}: available is negative`);
    if (k.balance < 0) problems.push(`key ${k.id}: balance is negative`);
  }
  for (const j of jobs) {
    const open = ['pending', 'queued', 'in_progress'].includes(j.status);
    if (j.holds !== j.held) problems.push(`job ${j.id}: hold entries ${j.holds} ≠ held ${j.held}`);
    if (j.terminals > 1) problems.push(`job ${j.id}: ${j.terminals} terminal entries`);
    if (open && (j.captures > 0 || j.releases > 0)) problems.push(`job ${j.id}: open but settled in the ledger`);
    if (!open && j.held > 0 && j.captures + j.releases !== j.held) problems.push(`job ${j.id}: ${j.status} but hold not fully resolved`);
    if (!open && j.held > 0 && j.terminals !== 1) problems.push(`job ${j.id}: ${j.status} without exactly one terminal entry`);
    if (j.captures !== j.charged) problems.push(`job ${j.id}: charged ${j.charged} ≠ captures ${j.captures}`);
    if (j.status !== 'completed' && j.captures > 0) problems.push(`job ${j.id}: ${j.status} but charged`);
  }
  return problems;
}

/**
 * The ledger invariants checker on SQLite, read straight from the tables (independently of the
 * code that writes them) inside one read transaction, so it sees one consistent snapshot even
 * while another connection writes. Keys, then jobs, each in id order.
 */
export function ledgerCheck({ sqlite }: Pick<Database_, 'sqlite'>) {
  const keysStmt = sqlite.prepare(
    `select k.id, k.balance_micros as balance, k.held_micros as held,
       coalesce(sum(case when l.kind = 'credit' then l.amount_micros end), 0) as credit,
       coalesce(sum(case when l.kind = 'adjustment' then l.amount_micros end), 0) as adjustment,
       coalesce(sum(case when l.kind = 'hold' then l.amount_micros end), 0) as hold,
       coalesce(sum(case when l.kind = 'capture' then l.amount_micros end), 0) as capture,
       coalesce(sum(case when l.kind = 'release' then l.amount_micros end), 0) as release
     from api_keys k left join ledger l on l.key_id = k.id
     group by k.id order by k.id`,
  );
  const jobsStmt = sqlite.prepare(
    `select j.id, j.status, j.held_micros as held, j.charged_micros as charged,
       coalesce(sum(case when l.kind = 'hold' then l.amount_micros end), 0) as holds,
       coalesce(sum(case when l.kind = 'capture' then l.amount_micros end), 0) as captures,
       coalesce(sum(case when l.kind = 'release' then l.amount_micros end), 0) as releases,
       count(case when l.terminal = 1 then 1 end) as terminals
     from jobs j left join ledger l on l.job_id = j.id
     group by j.id order by j.id`,
  );
  const read = sqlite.transaction(() => violationsOf(keysStmt.all() as KeyLedgerSums[], jobsStmt.all() as JobLedgerSums[]));
  return {
    /** The ledger invariants that do not hold, as messages; empty when all hold. */
    ledgerViolations(): string[] {
      return read.deferred();
    },
  };
}
