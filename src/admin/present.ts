import type { KeyRow } from '../db/keys-store.js';
import type { Catalog } from '../billing/catalog.js';
import type { UsageGroupBy, UsageGroupRow } from '../db/usage-store.js';
import type { JobRow, LedgerRow } from '../db/billing-store.js';
import type { StoredRequestLogRow } from '../db/request-log-store.js';
import type { AuditRow } from '../db/audit-store.js';
import type { WebhookDelivery } from '../store/store.js';
import type { ArchiveTaskRow } from '../store/rows.js';
import { formatUsd } from '../money.js';

/** Database rows → the admin API's JSON objects (ISO times in UTC, USD as 6-decimal strings). */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function presentKey(k: KeyRow) {
  return {
    id: k.id,
    object: 'api_key',
    name: k.name,
    prefix: k.prefix,
    created_at: iso(k.createdAt),
    last_used_at: iso(k.lastUsedAt),
    expires_at: iso(k.expiresAt),
    disabled: k.disabled,
    revoked_at: iso(k.revokedAt),
    allowed_models: k.allowedModels,
    rpm_limit: k.rpmLimit,
    max_inflight_jobs: k.maxInflightJobs,
    max_concurrent_downloads: k.maxConcurrentDownloads,
    balance_usd: formatUsd(k.balanceMicros),
    held_usd: formatUsd(k.heldMicros),
    available_usd: formatUsd(k.balanceMicros - k.heldMicros),
    webhook_url: k.webhookUrl,
  };
}

/** A job's archive fields (contract §11): state and bytes, null when the job has no archive task. */
export function presentArchive(t: ArchiveTaskRow | undefined) {
  return { archive_state: t?.state ?? null, archive_bytes: t?.bytes ?? null };
}

export function presentJob(j: JobRow) {
  return {
    id: j.videoId ?? j.id,
    job_id: j.id,
    key_id: j.keyId,
    kind: j.kind,
    model: j.model,
    size: j.size,
    requested_seconds: j.requestedSeconds,
    billed_seconds: j.billedSeconds,
    status: j.status,
    progress: j.progress,
    source_video_id: j.sourceVideoId,
    unit_price_usd: formatUsd(j.flatPriceMicros ?? j.rateMicros),
    held_usd: formatUsd(j.heldMicros),
    charged_usd: formatUsd(j.chargedMicros),
    error_code: j.errorCode,
    request_id: j.requestId,
    upstream_request_id: j.upstreamRequestId,
    upstream_id: j.upstreamId,
    created_at: iso(j.createdAt),
    completed_at: iso(j.completedAt),
    settled_at: iso(j.settledAt),
    late_completed_at: iso(j.lateCompletedAt),
    deleted_at: iso(j.deletedAt),
  };
}

export function presentLedger(e: LedgerRow, videoId: string | null = null) {
  return {
    id: e.id,
    kind: e.kind,
    amount_usd: formatUsd(e.amountMicros),
    key_id: e.keyId,
    job_id: e.jobId,
    video_id: videoId,
    request_id: e.requestId,
    actor: e.actor,
    note: e.note,
    created_at: iso(e.createdAt),
  };
}

export function presentRequest(r: StoredRequestLogRow) {
  return {
    id: String(r.seq),
    request_id: r.requestId,
    client_request_id: r.clientRequestId,
    upstream_request_id: r.upstreamRequestId,
    upstream_id: r.upstreamId,
    key_id: r.keyId,
    method: r.method,
    route: r.route,
    video_id: r.videoId,
    status: r.status,
    error_code: r.errorCode,
    duration_ms: r.durationMs,
    upstream_duration_ms: r.upstreamDurationMs,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    created_at: iso(r.createdAt),
  };
}

export function presentAudit(a: AuditRow) {
  return {
    id: a.id,
    actor: a.actor,
    action: a.action,
    target_id: a.targetId,
    request_id: a.requestId,
    details: a.details === null ? null : (JSON.parse(a.details) as unknown),
    created_at: iso(a.createdAt),
  };
}

/** The effective price catalog, one entry per model, USD as 6-decimal strings. */
export function presentPricing(catalog: Catalog) {
  return [...catalog.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([model, p]) => ({
      model,
      pricing: p.flatMicros !== null ? ('per_request' as const) : ('per_second' as const),
      sizes: p.perSecondMicros ? Object.keys(p.perSecondMicros) : [...(p.flatSizes ?? [])],
      seconds: [...p.seconds],
      default_seconds: p.defaultSeconds,
      default_size: p.defaultSize,
      extension_seconds: [...p.extensionSeconds],
      per_second_usd: p.perSecondMicros ? Object.fromEntries(Object.entries(p.perSecondMicros).map(([size, m]) => [size, formatUsd(m)])) : null,
      per_request_usd: p.flatMicros !== null ? formatUsd(p.flatMicros) : null,
    }));
}

export function presentUsageGroup(g: UsageGroupRow, groupBy: UsageGroupBy) {
  return {
    group: g.group,
    ...(groupBy === 'key' && { key_name: g.keyName }),
    jobs: g.jobs,
    charged_jobs: g.chargedJobs,
    billed_seconds: g.billedSeconds,
    amount_usd: formatUsd(g.amountMicros),
  };
}

/** A webhook event with its delivery attempts (contract §12); never the body's secret parts (it has none) nor the key's secret. */
export function presentDelivery(d: WebhookDelivery) {
  const e = d.event;
  return {
    id: e.id,
    object: 'webhook_delivery',
    key_id: e.keyId,
    job_id: e.jobId,
    type: e.type as string,
    video_id: e.videoId,
    status: e.status as string,
    attempts: d.attempts.map((a) => ({ at: iso(a.at), status_code: a.statusCode, error: a.error, duration_ms: a.durationMs })),
    next_attempt_at: e.status === 'pending' ? iso(e.nextAttemptAt) : null,
    delivered_at: iso(e.deliveredAt),
    created_at: iso(e.createdAt),
  };
}
