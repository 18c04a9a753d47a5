import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { ConfigError, parseDatabaseUrl, redactDatabaseUrl } from '../config.js';
import { MIGRATIONS_DIR } from '../db/client.js';
import { migratePg, openPgDatabase, type PgDatabase } from '../db/pg/client.js';
import * as pgSchema from '../db/pg/schema/index.js';
import * as sqliteSchema from '../db/schema/index.js';
import { getTableConfig as getSqliteTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { HELP } from './help.js';
import { DatabaseUnreachable, Refused, UsageError, pgReason } from './common.js';

/**
 * `reelay db copy --from <sqlite file> --to <postgres url>`: moves a stopped reelay's SQLite data
 * into an empty PostgreSQL database (contract section 9).
 *
 * - The source is opened read-only and read in one read transaction (one snapshot); it is never
 *   created or changed. It must be at the current migration level.
 * - The target is migrated first when needed, then every table is copied inside ONE PostgreSQL
 *   transaction that holds EXCLUSIVE locks on the tables: in batches (bounded memory), in
 *   foreign-key order, with the SQLite `seq` values kept, and each identity sequence moved past
 *   the largest copied value. The checks (row counts, every key's balance and held amount, the
 *   ledger's totals per kind) run in that transaction, before COMMIT: any failure or mismatch rolls
 *   everything back and the target is left as empty as it was.
 * - A target that already holds rows is refused before anything is written.
 */

/** Rows read from SQLite and written to PostgreSQL at once. */
export const DEFAULT_BATCH_ROWS = 500;
/** PostgreSQL takes at most 65535 parameters per statement. */
const MAX_PARAMS = 60_000;

export interface TableCount {
  table: string;
  rows: number;
}

export interface LedgerKindTotal {
  kind: string;
  entries: number;
  amountMicros: string;
}

export interface CopyReport {
  from: string;
  /** The target URL without its password. */
  to: string;
  migratedTarget: boolean;
  tables: TableCount[];
  keys: { count: number; balanceMicros: string; heldMicros: string };
  ledger: LedgerKindTotal[];
  /** Sums over every job row (settled or not) of held_micros and charged_micros, compared on both sides. */
  jobs: { heldMicros: string; chargedMicros: string };
  sequences: { table: string; column: string; next: string }[];
}

/** A mismatch found by the checks (the copy was rolled back). */
export class CopyMismatch extends Refused {
  constructor(readonly differences: string[]) {
    super(`the copy does not match its source; nothing was written to the target:\n  ${differences.join('\n  ')}`);
  }
}

export async function dbCommand(sub: string | undefined, args: string[]): Promise<void> {
  if (sub !== 'copy') throw new UsageError(sub === undefined ? HELP.db! : `unknown command 'db ${sub}'\n\n${HELP.db}`);
  const { values, positionals } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${HELP['db copy']}`);
  if (!values.from) throw new UsageError(`--from is required (the SQLite file)\n\n${HELP['db copy']}`);
  if (!values.to) throw new UsageError(`--to is required (the postgres:// URL)\n\n${HELP['db copy']}`);
  const report = await copySqliteToPg({ from: values.from, to: values.to, progress: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatReport(report));
}

/** A table copied: its name, its columns (PostgreSQL's order and types), what it depends on. */
interface TablePlan {
  name: string;
  columns: { name: string; sqlType: string }[];
  dependsOn: string[];
}

export async function copySqliteToPg(o: { from: string; to: string; batchRows?: number; progress?: (m: string) => void }): Promise<CopyReport> {
  const progress = o.progress ?? (() => {});
  const target = parseDatabaseUrl(o.to);
  if (target.engine !== 'postgres') throw new UsageError('--to must be a postgres:// or postgresql:// URL');
  const shownTo = redactDatabaseUrl(target.url);
  const fromPath = parseDatabaseUrl(o.from);
  if (fromPath.engine !== 'sqlite') throw new UsageError('--from must be a SQLite file (the target goes in --to)');
  const from = fromPath.path;
  // Never create it: a missing file is a wrong path, not a wish for an empty copy.
  if (from === ':memory:' || !existsSync(from)) {
    throw new ConfigError(`--from: no SQLite database at ${resolve(from)}`);
  }

  const plan = tablePlan();
  const sqlite = openSource(from);
  let database: PgDatabase | undefined;
  try {
    checkSourceSchema(sqlite, plan);
    database = openPgDatabase(target.url, { max: 1, applicationName: 'reelay db copy', connectionTimeoutMillis: 10_000 });
    let client: pg.PoolClient;
    try {
      client = await database.pool.connect();
    } catch (err) {
      throw new DatabaseUnreachable(`cannot reach the PostgreSQL database ${shownTo}: ${pgReason(err)}`);
    }
    client.release();

    // Refuse before migrating: a target that holds data is left exactly as it is.
    const before = await targetRows(database.pool, plan);
    refuseNonEmpty(before, shownTo);
    const migratedTarget = before.some((t) => t.rows === null);
    await migratePg(database.pool);

    // One snapshot of the source for the copy and its checks.
    sqlite.exec('BEGIN');
    const report = await copyInOneTransaction(database.pool, sqlite, plan, o.batchRows ?? DEFAULT_BATCH_ROWS, shownTo, progress);
    sqlite.exec('COMMIT');
    return { from, to: shownTo, migratedTarget, ...report };
  } finally {
    sqlite.close();
    await database?.close();
  }
}

/** Every table of the PostgreSQL schema that the SQLite schema has too, parents before children. */
export function tablePlan(): TablePlan[] {
  const sqliteNames = new Set(Object.values(sqliteSchema).map((t) => getSqliteTableConfig(t as SQLiteTable).name));
  const plans: TablePlan[] = [];
  for (const table of Object.values(pgSchema)) {
    const cfg = getTableConfig(table as PgTable);
    if (!sqliteNames.has(cfg.name)) continue;
    plans.push({
      name: cfg.name,
      columns: cfg.columns.map((c) => ({ name: c.name, sqlType: c.getSQLType() })),
      dependsOn: cfg.foreignKeys.map((fk) => getTableConfig(fk.reference().foreignTable).name).filter((n) => n !== cfg.name),
    });
  }
  // Topological order: a table comes after every table its foreign keys point at.
  const ordered: TablePlan[] = [];
  const placed = new Set<string>();
  while (ordered.length < plans.length) {
    const next = plans.find((p) => !placed.has(p.name) && p.dependsOn.every((d) => placed.has(d) || !plans.some((q) => q.name === d)));
    if (!next) throw new Error('db copy: the tables\' foreign keys form a cycle');
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}

function openSource(path: string): Database.Database {
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Refused(`--from: cannot open ${resolve(path)} as a SQLite database: ${(err as Error).message}`);
  }
  try {
    sqlite.pragma('busy_timeout = 5000');
    // Not a database at all (a text file, say) fails here.
    sqlite.prepare('select count(*) from sqlite_master').get();
  } catch (err) {
    sqlite.close();
    throw new Refused(`--from: ${resolve(path)} is not a SQLite database: ${(err as Error).message}`);
  }
  return sqlite;
}

/** The source must be a reelay database at this version's migration level, with every column copied. */
function checkSourceSchema(sqlite: Database.Database, plan: TablePlan[]): void {
  const hasMigrations = sqlite.prepare("select 1 from sqlite_master where type = 'table' and name = '__drizzle_migrations'").get();
  if (!hasMigrations) throw new Refused('--from: this SQLite file is not a reelay database (it has no migrations table)');
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
  const latest = Math.max(...journal.entries.map((e) => e.when));
  const applied = (sqlite.prepare('select max(created_at) as at from __drizzle_migrations').get() as { at: number | null }).at ?? 0;
  if (Number(applied) < latest) {
    throw new Refused(
      "--from: this SQLite database was written by an older reelay and is not migrated to this version; with reelay stopped, run `DATABASE_URL=<the file> reelay migrate` first, then copy",
    );
  }
  if (Number(applied) > latest) {
    throw new Refused('--from: this SQLite database was written by a newer reelay than this one; copy it with that version');
  }
  for (const t of plan) {
    const have = new Set((sqlite.prepare(`pragma table_info("${t.name}")`).all() as { name: string }[]).map((c) => c.name));
    const missing = t.columns.filter((c) => !have.has(c.name)).map((c) => c.name);
    if (missing.length > 0) throw new Refused(`--from: table ${t.name} lacks column(s) ${missing.join(', ')}`);
  }
}

/** Rows per table in the target; null when the table does not exist yet (an unmigrated database). */
async function targetRows(pool: pg.Pool | pg.PoolClient, plan: TablePlan[]): Promise<{ table: string; rows: number | null }[]> {
  const out: { table: string; rows: number | null }[] = [];
  for (const t of plan) {
    const exists = (await pool.query<{ r: string | null }>('select to_regclass($1) as r', [quoteIdent(t.name)])).rows[0]!.r;
    if (!exists) {
      out.push({ table: t.name, rows: null });
      continue;
    }
    const n = (await pool.query<{ n: string }>(`select count(*) as n from ${quoteIdent(t.name)}`)).rows[0]!.n;
    out.push({ table: t.name, rows: Number(n) });
  }
  return out;
}

function refuseNonEmpty(counts: { table: string; rows: number | null }[], shownTo: string): void {
  const held = counts.filter((c) => (c.rows ?? 0) > 0);
  if (held.length === 0) return;
  throw new Refused(
    `the target ${shownTo} is not empty (${held.map((c) => `${c.table}: ${c.rows} rows`).join(', ')}); db copy only fills an empty database and changed nothing`,
  );
}

async function copyInOneTransaction(
  pool: pg.Pool,
  sqlite: Database.Database,
  plan: TablePlan[],
  batchRows: number,
  shownTo: string,
  progress: (m: string) => void,
): Promise<Omit<CopyReport, 'from' | 'to' | 'migratedTarget'>> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    // Nothing else may write these tables while they are filled (a reelay started on the target
    // too early, a second copy): wait at most 10 s for them, then give up.
    await client.query("SET LOCAL lock_timeout = '10s'");
    await client.query(`LOCK TABLE ${plan.map((t) => quoteIdent(t.name)).join(', ')} IN EXCLUSIVE MODE`);
    // Checked again under the locks: nothing may have arrived since the first look.
    refuseNonEmpty(await targetRows(client, plan), shownTo);

    const identity = await identityColumns(client);
    const tables: TableCount[] = [];
    for (const t of plan) {
      const rows = await copyTable(client, sqlite, t, batchRows, identity.some((c) => c.table === t.name));
      tables.push({ table: t.name, rows });
      progress(`copied ${t.name}: ${rows} rows`);
    }
    const sequences: CopyReport['sequences'] = [];
    for (const c of identity.filter((i) => plan.some((t) => t.name === i.table))) {
      // The next generated value is one past the largest copied one (1 on an empty table).
      const r = await client.query<{ next: string }>(
        `select setval(pg_get_serial_sequence($1, $2), coalesce((select max(${quoteIdent(c.column)}) from ${quoteIdent(c.table)}), 0) + 1, false) as next`,
        [quoteIdent(c.table), c.column],
      );
      sequences.push({ table: c.table, column: c.column, next: r.rows[0]!.next });
    }

    const checks = await compare(client, sqlite, plan);
    if (checks.differences.length > 0) throw new CopyMismatch(checks.differences);
    await client.query('COMMIT');
    return { tables, sequences, keys: checks.keys, ledger: checks.ledger, jobs: checks.jobs };
  } catch (err) {
    failed = err as Error;
    await client.query('ROLLBACK').catch(() => {});
    if (err instanceof Refused || err instanceof UsageError) throw err;
    throw new Refused(`the copy failed and was rolled back; the target is unchanged: ${pgReason(err)}`);
  } finally {
    client.release(failed);
  }
}

async function identityColumns(client: pg.PoolClient): Promise<{ table: string; column: string }[]> {
  const r = await client.query<{ table_name: string; column_name: string }>(
    `select table_name, column_name from information_schema.columns
      where table_schema = current_schema() and (is_identity = 'YES' or column_default like 'nextval(%')
      order by table_name, column_name`,
  );
  return r.rows.map((x) => ({ table: x.table_name, column: x.column_name }));
}

/** Copies one table in rowid order, `batchRows` rows (or fewer, to stay under pg's parameter limit) per statement. */
async function copyTable(client: pg.PoolClient, sqlite: Database.Database, t: TablePlan, batchRows: number, hasIdentity: boolean): Promise<number> {
  const per = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMS / t.columns.length)));
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const page = sqlite.prepare(`select rowid as "__rowid", ${cols} from ${quoteIdent(t.name)} where rowid > ? order by rowid limit ?`);
  page.safeIntegers(true).raw(true);
  const insertHead = `insert into ${quoteIdent(t.name)} (${cols})${hasIdentity ? ' overriding system value' : ''} values `;
  let after: bigint = -(2n ** 63n);
  let copied = 0;
  for (;;) {
    const rows = page.all(after, per) as unknown[][];
    if (rows.length === 0) return copied;
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const row of rows) {
      const placeholders: string[] = [];
      t.columns.forEach((c, i) => {
        params.push(toPg(row[i + 1], c.sqlType, t.name, c.name));
        placeholders.push(`$${params.length}::${c.sqlType}`);
      });
      tuples.push(`(${placeholders.join(', ')})`);
    }
    try {
      await client.query(insertHead + tuples.join(', '), params);
    } catch (err) {
      throw new Error(`copying ${t.name} (rows after rowid ${after}): ${pgReason(err)}`, { cause: err });
    }
    copied += rows.length;
    after = rows[rows.length - 1]![0] as bigint;
    if (rows.length < per) return copied;
  }
}

/** One SQLite value as a parameter for a PostgreSQL column of type `sqlType`. */
export function toPg(v: unknown, sqlType: string, table: string, column: string): unknown {
  if (v === null || v === undefined) return null;
  const type = sqlType.toLowerCase();
  if (type === 'boolean') {
    if (typeof v === 'bigint' || typeof v === 'number') return v !== 0n && v !== 0;
    throw new Error(`copying ${table}.${column}: expected 0 or 1 for a boolean, found ${JSON.stringify(String(v))}`);
  }
  if (Buffer.isBuffer(v)) throw new Error(`copying ${table}.${column}: unexpected binary value`);
  // Integers arrive as BigInt (exact beyond 2^53) and are sent as their decimal text.
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  return v;
}

interface Checks {
  differences: string[];
  keys: CopyReport['keys'];
  ledger: LedgerKindTotal[];
  jobs: CopyReport['jobs'];
}

/**
 * The checks, in plain SQL on each side: row counts per table, every key's balance and held
 * amount, the ledger's entries and amounts per kind, the jobs' held and charged totals.
 */
async function compare(client: pg.PoolClient, sqlite: Database.Database, plan: TablePlan[]): Promise<Checks> {
  const differences: string[] = [];
  const s = <T>(sql: string) => {
    const stmt = sqlite.prepare(sql);
    stmt.safeIntegers(true);
    return (stmt.all() as Record<string, unknown>[]).map((r) => stringify(r)) as T[];
  };
  const p = async <T>(sql: string) => (await client.query(sql)).rows.map((r: Record<string, unknown>) => stringify(r)) as T[];

  for (const t of plan) {
    const q = `select count(*) as n from ${quoteIdent(t.name)}`;
    const [a] = s<{ n: string }>(q);
    const [b] = await p<{ n: string }>(q);
    if (a!.n !== b!.n) differences.push(`${t.name}: ${a!.n} rows in SQLite, ${b!.n} in PostgreSQL`);
  }

  const keySql = 'select id, balance_micros as balance, held_micros as held from api_keys order by id';
  const ks = s<{ id: string; balance: string; held: string }>(keySql);
  const kp = new Map((await p<{ id: string; balance: string; held: string }>(keySql)).map((k) => [k.id, k]));
  for (const k of ks) {
    const other = kp.get(k.id);
    if (!other) differences.push(`key ${k.id}: missing in PostgreSQL`);
    else if (other.balance !== k.balance || other.held !== k.held) {
      differences.push(`key ${k.id}: balance ${k.balance} / held ${k.held} micro-USD in SQLite, ${other.balance} / ${other.held} in PostgreSQL`);
    }
    kp.delete(k.id);
  }
  for (const id of kp.keys()) differences.push(`key ${id}: in PostgreSQL only`);
  const [kt] = s<{ n: string; balance: string | null; held: string | null }>(
    'select count(*) as n, sum(balance_micros) as balance, sum(held_micros) as held from api_keys',
  );

  // Sorted here, not by ORDER BY: the two engines' collations need not agree.
  const byKind = (a: { kind: string }, b: { kind: string }) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);
  const ledgerSql = 'select kind, count(*) as entries, sum(amount_micros) as amount from ledger group by kind';
  const ls = s<{ kind: string; entries: string; amount: string }>(ledgerSql).sort(byKind);
  const lp = (await p<{ kind: string; entries: string; amount: string }>(ledgerSql)).sort(byKind);
  if (JSON.stringify(ls) !== JSON.stringify(lp)) {
    differences.push(`ledger totals per kind: SQLite ${JSON.stringify(ls)}, PostgreSQL ${JSON.stringify(lp)}`);
  }

  const jobSql = 'select coalesce(sum(held_micros), 0) as held, coalesce(sum(charged_micros), 0) as charged from jobs';
  const [js] = s<{ held: string; charged: string }>(jobSql);
  const [jp] = await p<{ held: string; charged: string }>(jobSql);
  if (js!.held !== jp!.held || js!.charged !== jp!.charged) {
    differences.push(`jobs: held ${js!.held} / charged ${js!.charged} micro-USD in SQLite, ${jp!.held} / ${jp!.charged} in PostgreSQL`);
  }

  return {
    differences,
    keys: { count: Number(kt!.n), balanceMicros: kt!.balance ?? '0', heldMicros: kt!.held ?? '0' },
    ledger: ls.map((l) => ({ kind: l.kind, entries: Number(l.entries), amountMicros: l.amount })),
    jobs: { heldMicros: js!.held, chargedMicros: js!.charged },
  };
}

/** Every value as a string (or null), so both engines' numbers compare exactly. */
function stringify(r: Record<string, unknown>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]));
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Micro-USD (decimal text, exact at any size) as dollars with 6 decimals. */
function usd(micros: string): string {
  const v = BigInt(micros);
  const abs = v < 0n ? -v : v;
  return `${v < 0n ? '-' : ''}${abs / 1_000_000n}.${String(abs % 1_000_000n).padStart(6, '0')}`;
}

export function formatReport(r: CopyReport): string {
  const width = Math.max(...r.tables.map((t) => t.table.length));
  const lines = [
    `Copied ${r.from} into ${r.to}${r.migratedTarget ? ' (migrated first)' : ''}, in one transaction:`,
    ...r.tables.map((t) => `  ${t.table.padEnd(width)}  ${String(t.rows).padStart(8)} rows`),
    'Ledger totals per kind, identical on both sides:',
    ...(r.ledger.length === 0 ? ['  (no ledger entries)'] : r.ledger.map((l) => `  ${l.kind.padEnd(10)}  ${String(l.entries).padStart(8)} entries  ${usd(l.amountMicros).padStart(16)} USD`)),
    `Every key's balance and held amount is identical on both sides: ${r.keys.count} keys, balance ${usd(r.keys.balanceMicros)} USD, held ${usd(r.keys.heldMicros)} USD.`,
    `Jobs: ${r.tables.find((t) => t.table === 'jobs')?.rows ?? 0}, charged ${usd(r.jobs.chargedMicros)} USD in all, on both sides.`,
    'Verified. Point DATABASE_URL at the PostgreSQL database and start reelay.',
  ];
  return `${lines.join('\n')}\n`;
}
