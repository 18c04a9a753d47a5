import type Database from 'better-sqlite3';

/**
 * Checks the ledger invariants straight from the tables, independently of the application code:
 * balance = credits − adjustments − captures; held = holds − captures − releases; available ≥ 0;
 * every settled job's hold is fully captured or released; open jobs have no settlement.
 * Returns the list of violations (empty when all hold).
 */
export function ledgerViolations(sqlite: Database.Database): string[] {
  const problems: string[] = [];
  const keys = sqlite.prepare('select id, balance_micros as balance, held_micros as held from api_keys').all() as { id: string; balance: number; held: number }[];
  const sums = sqlite.prepare(
    `select kind, coalesce(sum(amount_micros), 0) as total from ledger where key_id = ? group by kind`,
  );
  for (const k of keys) {
    const by: Record<string, number> = {};
    for (const r of sums.all(k.id) as { kind: string; total: number }[]) by[r.kind] = r.total;
    const balance = (by.credit ?? 0) - (by.adjustment ?? 0) - (by.capture ?? 0);
    const held = (by.hold ?? 0) - (by.capture ?? 0) - (by.release ?? 0);
    if (balance !== k.balance) problems.push(`key ${k.id}: balance ${k.balance} but ledger says ${balance}`);
    if (held !== k.held) problems.push(`key ${k.id}: held ${k.held} but ledger says ${held}`);
    if (k.balance - k.held < 0) problems.push(`key ${k.id}: available is negative`);
    if (k.balance < 0) problems.push(`key ${k.id}: balance is negative`);
  }
  const jobs = sqlite
    .prepare(
      `select j.id, j.status, j.held_micros as held, j.charged_micros as charged,
        (select coalesce(sum(amount_micros),0) from ledger l where l.job_id = j.id and l.kind = 'hold') as holds,
        (select coalesce(sum(amount_micros),0) from ledger l where l.job_id = j.id and l.kind = 'capture') as captures,
        (select coalesce(sum(amount_micros),0) from ledger l where l.job_id = j.id and l.kind = 'release') as releases,
        (select count(*) from ledger l where l.job_id = j.id and l.terminal = 1) as terminals
       from jobs j`,
    )
    .all() as { id: string; status: string; held: number; charged: number; holds: number; captures: number; releases: number; terminals: number }[];
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
