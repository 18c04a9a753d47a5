import type { LedgerRow } from './rows.js';

/**
 * The query and result shapes of the store's read units (admin lists, usage, dashboard, request
 * log), shared by both engines. The SQLite modules that first declared them re-export them.
 */

export type Order = 'asc' | 'desc';

/** A keyset cursor on jobs: the (created_at, id) of the last row of the previous page. */
export interface JobCursor {
  createdAt: number;
  id: string;
}

export interface AdminJobQuery {
  keyId?: string;
  statuses?: readonly string[];
  model?: string;
  from?: number;
  to?: number;
  after?: JobCursor;
  order: Order;
  limit: number;
}

export interface AdminLedgerQuery {
  keyId?: string;
  jobId?: string;
  from?: number;
  to?: number;
  afterSeq?: number;
  order: Order;
  limit: number;
}

export type LedgerWithVideo = LedgerRow & { videoId: string | null };

export interface RequestLogQuery {
  requestId?: string;
  videoId?: string;
  keyId?: string;
  from?: number;
  to?: number;
  /** cursor: the seq of the last row of the previous page */
  beforeSeq?: number;
  limit: number;
}

/** Billing reads: the usage export (keyset-paginated pages) and the SQL-aggregated summary. */
export interface UsageFilter {
  from?: number;
  to?: number;
  keyId?: string;
}

export type UsageGroupBy = 'key' | 'model' | 'day' | 'upstream';

/** One billable job as the export needs it (only the columns it shows). */
export interface UsageRow {
  id: string;
  videoId: string | null;
  keyId: string;
  keyName: string | null;
  kind: string;
  model: string;
  size: string;
  requestedSeconds: number;
  billedSeconds: number | null;
  rateMicros: number;
  flatPriceMicros: number | null;
  chargedMicros: number;
  status: string;
  errorCode: string | null;
  requestId: string;
  upstreamRequestId: string | null;
  /** The upstream that took the create (contract §10). */
  upstreamId: string;
  createdAt: number;
  completedAt: number | null;
}

export interface UsageGroupRow {
  group: string;
  keyName: string | null;
  jobs: number;
  chargedJobs: number;
  billedSeconds: number;
  amountMicros: number;
}

/**
 * Read-only aggregates for the admin dashboard (/admin/ui). Times are ms since the epoch; days are
 * UTC dates (`YYYY-MM-DD`); ranges are `from` inclusive, `to` exclusive.
 */
export interface TimeRange {
  from: number;
  to: number;
}

export interface DaySpend {
  day: string;
  spentMicros: number;
  captures: number;
}

export interface KeySpend {
  keyId: string;
  name: string | null;
  prefix: string | null;
  spentMicros: number;
  jobs: number;
}

export interface ModelDayHealth {
  model: string;
  day: string;
  jobs: number;
  completed: number;
  failed: number;
  expired: number;
  rejected: number;
  /** rejections that are the upstream's doing (5xx, 429, connection failures), not the client's 4xx */
  rejectedUpstream: number;
  unknown: number;
  open: number;
  /** submitted → completed (ms), nearest-rank percentiles over the completed jobs of the day */
  genP50Ms: number | null;
  genP95Ms: number | null;
  /** the upstream's answer time to the create request (ms), from the request log */
  createP50Ms: number | null;
  createP95Ms: number | null;
}
