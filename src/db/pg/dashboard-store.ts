import { eq, inArray, or } from 'drizzle-orm';
import type { PgDatabase } from './client.js';
import { jobs } from './schema/index.js';
import { jobsOrder } from './admin-store.js';
import { OPEN_STATUSES, type JobRow } from '../../store/rows.js';
import type { DaySpend, KeySpend, ModelDayHealth, TimeRange } from '../../store/queries.js';

/**
 * PostgreSQL twin of src/db/dashboard-store.ts. The SQL is PostgreSQL's own (SQLite's
 * strftime, two-argument max and sum(boolean) have no equivalent here); the results are the same
 * values with the same JS types: node-postgres hands back count(*) and sum() as strings, so every
 * figure is converted to a number below. Text is ordered with COLLATE "C" (SQLite's BINARY).
 */

/** The UTC date of `created_at`, as SQLite's strftime('%Y-%m-%d', created_at / 1000, 'unixepoch'). */
const DAY = `to_char(to_timestamp(created_at / 1000) at time zone 'UTC', 'YYYY-MM-DD')`;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

// Nearest-rank percentile p of n sorted values is the value at rank ceil(n * p / 100).
const percentiles = (cte: string) => `
  select model, day,
    max(case when rn = (n * 50 + 99) / 100 then ms end) as p50,
    max(case when rn = (n * 95 + 99) / 100 then ms end) as p95
  from ${cte} group by model, day`;

// SQLite's LIKE is case-insensitive for ASCII: ILIKE here matches the same error codes.
const HEALTH_SQL = `
with j as (
  select model, ${DAY} as day, status, error_code, request_id,
    case when status = 'completed' and completed_at is not null then greatest(0, completed_at - created_at) end as gen_ms
  from jobs where created_at >= $1 and created_at < $2
),
counts as (
  select model, day, count(*) as jobs,
    count(*) filter (where status = 'completed') as completed, count(*) filter (where status = 'failed') as failed,
    count(*) filter (where status = 'expired') as expired, count(*) filter (where status = 'rejected') as rejected,
    count(*) filter (where status = 'rejected' and (error_code is null or error_code not ilike 'upstream!_4%' escape '!' or error_code = 'upstream_429')) as rejected_upstream,
    count(*) filter (where status = 'unknown') as unknown, count(*) filter (where status in ('pending', 'queued', 'in_progress')) as open
  from j group by model, day
),
gen as (
  select model, day, gen_ms as ms,
    row_number() over (partition by model, day order by gen_ms) as rn, count(*) over (partition by model, day) as n
  from j where gen_ms is not null
),
cr as (
  select j.model, j.day, r.upstream_duration_ms as ms,
    row_number() over (partition by j.model, j.day order by r.upstream_duration_ms) as rn,
    count(*) over (partition by j.model, j.day) as n
  from j join request_log r on r.request_id = j.request_id and r.method = 'POST'
  where r.upstream_duration_ms is not null
),
genp as (${percentiles('gen')}),
crp as (${percentiles('cr')})
select c.model, c.day, c.jobs, c.completed, c.failed, c.expired, c.rejected, c.rejected_upstream, c.unknown, c.open,
  genp.p50 as gen_p50, genp.p95 as gen_p95, crp.p50 as create_p50, crp.p95 as create_p95
from counts c
left join genp on genp.model = c.model and genp.day = c.day
left join crp on crp.model = c.model and crp.day = c.day
order by c.model collate "C", c.day collate "C"`;

const SPEND_SQL = (byKey: boolean) =>
  `select ${DAY} collate "C" as day, sum(amount_micros) as spent, count(*) as captures
   from ledger where kind = 'capture'${byKey ? ' and key_id = $3' : ''} and created_at >= $1 and created_at < $2
   group by day order by day`;

export function pgDashboardStore({ db, pool }: PgDatabase) {
  const query = async (text: string, params: unknown[]) => (await pool.query(text, params)).rows as Record<string, unknown>[];
  const daySpend = (rows: Record<string, unknown>[]): DaySpend[] =>
    rows.map((r) => ({ day: r.day as string, spentMicros: num(r.spent), captures: num(r.captures) }));

  return {
    /** Money captured from keys per UTC day (the day the job was settled). */
    async spendPerDay(r: TimeRange): Promise<DaySpend[]> {
      return daySpend(await query(SPEND_SQL(false), [r.from, r.to]));
    },
    /** Jobs submitted in the range, counted by status. */
    async jobsByStatus(r: TimeRange): Promise<{ status: string; n: number }[]> {
      const rows = await query(
        `select status, count(*) as n from jobs where created_at >= $1 and created_at < $2 group by status order by n desc, status collate "C"`,
        [r.from, r.to],
      );
      return rows.map((x) => ({ status: x.status as string, n: num(x.n) }));
    },
    /** spendPerDay for one key. */
    async keySpendPerDay(keyId: string, r: TimeRange): Promise<DaySpend[]> {
      return daySpend(await query(SPEND_SQL(true), [r.from, r.to, keyId]));
    },
    async topKeysBySpend(r: TimeRange, limit: number): Promise<KeySpend[]> {
      // Grouped by the key's name and prefix too: PostgreSQL wants every selected column grouped,
      // and the join on the key's primary key gives one name and prefix per key_id anyway.
      const rows = await query(
        `select l.key_id, k.name, k.prefix, sum(l.amount_micros) as spent, count(*) as jobs
         from ledger l left join api_keys k on k.id = l.key_id
         where l.kind = 'capture' and l.created_at >= $1 and l.created_at < $2
         group by l.key_id, k.name, k.prefix order by spent desc, l.key_id collate "C" limit $3`,
        [r.from, r.to, limit],
      );
      return rows.map((x) => ({
        keyId: x.key_id as string,
        name: (x.name ?? null) as string | null,
        prefix: (x.prefix ?? null) as string | null,
        spentMicros: num(x.spent),
        jobs: num(x.jobs),
      }));
    },
    /** Open jobs still holding money, oldest first, with the totals over all of them. */
    async openHolds(limit: number): Promise<{ jobs: JobRow[]; count: number; heldMicros: number }> {
      const [t] = await query(`select count(*) as jobs, sum(held_micros) as held from jobs where status in ('pending', 'queued', 'in_progress')`, []);
      const rows = await db
        .select()
        .from(jobs)
        .where(inArray(jobs.status, [...OPEN_STATUSES]))
        .orderBy(...jobsOrder('asc'))
        .limit(limit);
      return { jobs: rows, count: num(t!.jobs), heldMicros: numOrNull(t!.held) ?? 0 };
    },
    /** Key counts, and the balance and held amounts of the active (usable) keys only. */
    async keyTotals(now: number): Promise<{ keys: number; active: number; balanceMicros: number; heldMicros: number }> {
      // Balances are summed over the usable keys only: money left on a revoked key cannot be spent.
      const [t] = await query(
        `select count(*) as keys, sum(case when usable then 1 else 0 end) as active,
           sum(case when usable then balance_micros else 0 end) as balance,
           sum(case when usable then held_micros else 0 end) as held
         from (select balance_micros, held_micros,
                 (revoked_at is null and not disabled and (expires_at is null or expires_at > $1)) as usable
               from api_keys) k`,
        [now],
      );
      return { keys: num(t!.keys), active: numOrNull(t!.active) ?? 0, balanceMicros: numOrNull(t!.balance) ?? 0, heldMicros: numOrNull(t!.held) ?? 0 };
    },
    /** Per model and UTC day of submission: outcomes, time to complete and create latency percentiles. */
    async modelHealth(r: TimeRange): Promise<ModelDayHealth[]> {
      const rows = await query(HEALTH_SQL, [r.from, r.to]);
      return rows.map((x) => ({
        model: x.model as string,
        day: x.day as string,
        jobs: num(x.jobs),
        completed: num(x.completed),
        failed: num(x.failed),
        expired: num(x.expired),
        rejected: num(x.rejected),
        rejectedUpstream: num(x.rejected_upstream),
        unknown: num(x.unknown),
        open: num(x.open),
        genP50Ms: numOrNull(x.gen_p50),
        genP95Ms: numOrNull(x.gen_p95),
        createP50Ms: numOrNull(x.create_p50),
        createP95Ms: numOrNull(x.create_p95),
      }));
    },
    /** A job by the reelay or upstream request id of its create (both indexed). */
    async findJobByCreateRequestId(id: string): Promise<JobRow | undefined> {
      const [row] = await db.select().from(jobs).where(or(eq(jobs.requestId, id), eq(jobs.upstreamRequestId, id))).limit(1);
      return row;
    },
  };
}
