import { asc, eq, inArray, or } from 'drizzle-orm';
import type { Database_ } from './client.js';
import { jobs } from './schema/index.js';
import { OPEN_STATUSES, type JobRow } from './billing-store.js';

/**
 * Read-only aggregates for the admin dashboard (/admin/ui). Times are ms since the epoch; days are
 * UTC dates (`YYYY-MM-DD`); ranges are `from` inclusive, `to` exclusive.
 */
export type { TimeRange, DaySpend, KeySpend, ModelDayHealth } from '../store/queries.js';
import type { TimeRange, DaySpend, KeySpend, ModelDayHealth } from '../store/queries.js';

const DAY = `strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')`;

// Nearest-rank percentile p of n sorted values is the value at rank ceil(n * p / 100).
const percentiles = (cte: string) => `
  select model, day,
    max(case when rn = (n * 50 + 99) / 100 then ms end) as p50,
    max(case when rn = (n * 95 + 99) / 100 then ms end) as p95
  from ${cte} group by model, day`;

const HEALTH_SQL = `
with j as (
  select model, ${DAY} as day, status, error_code, request_id,
    case when status = 'completed' and completed_at is not null then max(0, completed_at - created_at) end as gen_ms
  from jobs where created_at >= @from and created_at < @to
),
counts as (
  select model, day, count(*) as jobs,
    sum(status = 'completed') as completed, sum(status = 'failed') as failed,
    sum(status = 'expired') as expired, sum(status = 'rejected') as rejected,
    sum(status = 'rejected' and (error_code is null or error_code not like 'upstream!_4%' escape '!' or error_code = 'upstream_429')) as rejectedUpstream,
    sum(status = 'unknown') as unknown, sum(status in ('pending', 'queued', 'in_progress')) as open
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
select c.model, c.day, c.jobs, c.completed, c.failed, c.expired, c.rejected, c.rejectedUpstream, c.unknown, c.open,
  genp.p50 as genP50Ms, genp.p95 as genP95Ms, crp.p50 as createP50Ms, crp.p95 as createP95Ms
from counts c
left join genp on genp.model = c.model and genp.day = c.day
left join crp on crp.model = c.model and crp.day = c.day
order by c.model, c.day`;

export function dashboardStore({ db, sqlite }: Database_) {
  const spendPerDay = sqlite.prepare<TimeRange, DaySpend>(
    `select ${DAY} as day, sum(amount_micros) as spentMicros, count(*) as captures
     from ledger where kind = 'capture' and created_at >= @from and created_at < @to
     group by day order by day`,
  );
  const jobsByStatus = sqlite.prepare<TimeRange, { status: string; n: number }>(
    `select status, count(*) as n from jobs where created_at >= @from and created_at < @to group by status order by n desc, status`,
  );
  const keySpendPerDay = sqlite.prepare<TimeRange & { keyId: string }, DaySpend>(
    `select ${DAY} as day, sum(amount_micros) as spentMicros, count(*) as captures
     from ledger where kind = 'capture' and key_id = @keyId and created_at >= @from and created_at < @to
     group by day order by day`,
  );
  const topKeys = sqlite.prepare<TimeRange & { limit: number }, KeySpend>(
    `select l.key_id as keyId, k.name as name, k.prefix as prefix, sum(l.amount_micros) as spentMicros, count(*) as jobs
     from ledger l left join api_keys k on k.id = l.key_id
     where l.kind = 'capture' and l.created_at >= @from and l.created_at < @to
     group by l.key_id order by spentMicros desc, l.key_id limit @limit`,
  );
  const holdTotals = sqlite.prepare<[], { jobs: number; heldMicros: number | null }>(
    `select count(*) as jobs, sum(held_micros) as heldMicros from jobs where status in ('pending', 'queued', 'in_progress')`,
  );
  // Balances are summed over the usable keys only: money left on a revoked key cannot be spent.
  const keyTotals = sqlite.prepare<{ now: number }, { keys: number; active: number; balanceMicros: number | null; heldMicros: number | null }>(
    `select count(*) as keys, sum(usable) as active,
       sum(case when usable then balance_micros else 0 end) as balanceMicros,
       sum(case when usable then held_micros else 0 end) as heldMicros
     from (select balance_micros, held_micros,
             (revoked_at is null and disabled = 0 and (expires_at is null or expires_at > @now)) as usable
           from api_keys)`,
  );
  const health = sqlite.prepare<TimeRange, ModelDayHealth>(HEALTH_SQL);

  return {
    /** Money captured from keys per UTC day (the day the job was settled). */
    spendPerDay(r: TimeRange): DaySpend[] {
      return spendPerDay.all(r);
    },
    /** Jobs submitted in the range, counted by status. */
    jobsByStatus(r: TimeRange): { status: string; n: number }[] {
      return jobsByStatus.all(r);
    },
    /** spendPerDay for one key. */
    keySpendPerDay(keyId: string, r: TimeRange): DaySpend[] {
      return keySpendPerDay.all({ ...r, keyId });
    },
    topKeysBySpend(r: TimeRange, limit: number): KeySpend[] {
      return topKeys.all({ ...r, limit });
    },
    /** Open jobs still holding money, oldest first, with the totals over all of them. */
    openHolds(limit: number): { jobs: JobRow[]; count: number; heldMicros: number } {
      const t = holdTotals.get()!;
      const rows = db.select().from(jobs).where(inArray(jobs.status, [...OPEN_STATUSES])).orderBy(asc(jobs.createdAt), asc(jobs.id)).limit(limit).all();
      return { jobs: rows, count: t.jobs, heldMicros: t.heldMicros ?? 0 };
    },
    /** Key counts, and the balance and held amounts of the active (usable) keys only. */
    keyTotals(now: number): { keys: number; active: number; balanceMicros: number; heldMicros: number } {
      const t = keyTotals.get({ now })!;
      return { keys: t.keys, active: t.active ?? 0, balanceMicros: t.balanceMicros ?? 0, heldMicros: t.heldMicros ?? 0 };
    },
    /** Per model and UTC day of submission: outcomes, time to complete and create latency percentiles. */
    modelHealth(r: TimeRange): ModelDayHealth[] {
      return health.all(r);
    },
    /** A job by the reelay or upstream request id of its create (both indexed). */
    findJobByCreateRequestId(id: string): JobRow | undefined {
      return db.select().from(jobs).where(or(eq(jobs.requestId, id), eq(jobs.upstreamRequestId, id))).limit(1).get();
    },
  };
}
