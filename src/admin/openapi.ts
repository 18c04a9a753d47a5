import { z } from 'zod';
import { createKeySchema, creditSchema, listKeysQuerySchema, patchKeySchema } from './keys-routes.js';
import { jobsQuerySchema } from './jobs-routes.js';
import { ledgerQuerySchema } from './ledger-routes.js';
import { requestsQuerySchema } from './requests-routes.js';
import { auditQuerySchema } from './audit-routes.js';
import { usageExportQuerySchema, usageSummaryQuerySchema } from './usage-routes.js';
import { EXPORT_COLUMNS, type ExportColumn } from './export.js';
import type { presentAudit, presentDelivery, presentJob, presentKey, presentLedger, presentPricing, presentRequest, presentUsageGroup } from './present.js';
import { deliveriesQuerySchema } from './webhooks-routes.js';
import { patchUpstreamSchema, type UpstreamView } from './upstreams-routes.js';

/**
 * The OpenAPI 3.1 description of /admin, generated: request bodies and query parameters from the
 * very zod schemas that validate them, responses from the zod schemas below, which the compiler
 * holds to the presenters' return types (see the `Same` checks) and the tests to real responses.
 */

// ---------------------------------------------------------------------------------------------
// Response shapes

const usd = z.string().regex(/^-?\d+\.\d{6}$/).meta({ description: 'USD, a decimal string with 6 decimals', examples: ['0.400000'] });
const time = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  .meta({ format: 'date-time', description: 'ISO 8601, UTC' });
const text = z.string();
const int = z.number().int();

export const keySchema = z
  .object({
    id: text,
    object: text.meta({ enum: ['api_key'] }),
    name: text,
    prefix: text.meta({ description: 'the first characters of the secret, to recognise it' }),
    created_at: time,
    last_used_at: time.nullable(),
    expires_at: time.nullable(),
    disabled: z.boolean(),
    revoked_at: time.nullable(),
    allowed_models: z.array(text).nullable().meta({ description: 'null: every priced model' }),
    rpm_limit: int.nullable(),
    max_inflight_jobs: int.nullable(),
    max_concurrent_downloads: int.nullable().meta({ description: 'concurrent content downloads; null: the default (8)' }),
    balance_usd: usd,
    held_usd: usd,
    available_usd: usd,
    webhook_url: text.nullable().meta({ description: 'where this key’s webhook events go; null: none (the secret is never shown here)' }),
  });

const webhookSecret = text.meta({ description: 'the webhook signing secret (`whsec_` + base64 of 32 bytes): in this response only' });
export const createdKeySchema = keySchema.extend({
  key: text.meta({ description: 'the plaintext secret, shown only in this response' }),
  webhook_secret: webhookSecret.optional().meta({ description: 'when the key was created with a webhook_url: its signing secret, in this response only' }),
});
export const changedKeySchema = keySchema.extend({
  webhook_secret: webhookSecret.optional().meta({ description: 'when this change gave the key its first webhook_url: its signing secret, in this response only' }),
});
export const rotatedKeySchema = keySchema.extend({
  webhook_secret: webhookSecret,
  previous_secret_expires_at: time.meta({ description: 'the previous secret keeps signing (a second signature) until then: 24 hours' }),
});

export const deliverySchema = z.object({
  id: text.meta({ description: 'the event id (evt_…), sent as webhook-id' }),
  object: text.meta({ enum: ['webhook_delivery'] }),
  key_id: text,
  job_id: text,
  type: text.meta({ enum: ['video.completed', 'video.failed'] }),
  video_id: text,
  status: text.meta({ enum: ['pending', 'delivered', 'failed'] }),
  attempts: z.array(
    z.object({
      at: time,
      status_code: int.nullable().meta({ description: "the endpoint's HTTP status; null when it did not answer" }),
      error: text.nullable(),
      duration_ms: int,
    }),
  ),
  next_attempt_at: time.nullable().meta({ description: 'when pending: the next attempt' }),
  delivered_at: time.nullable(),
  created_at: time,
});

const JOB_STATUSES = ['pending', 'queued', 'in_progress', 'completed', 'failed', 'expired', 'rejected', 'unknown'];

export const jobSchema = z.object({
  id: text.meta({ description: "the video id; reelay's job id when the upstream never assigned one" }),
  job_id: text.meta({ description: "reelay's internal job id" }),
  key_id: text,
  kind: text.meta({ enum: ['create', 'remix', 'edit', 'extension'] }),
  model: text,
  size: text,
  requested_seconds: int,
  billed_seconds: int.nullable(),
  status: text.meta({ enum: JOB_STATUSES }),
  progress: int.nullable(),
  source_video_id: text.nullable(),
  unit_price_usd: usd.meta({ description: 'the per-second rate snapshotted at submission, or the flat price' }),
  held_usd: usd,
  charged_usd: usd,
  error_code: text.nullable(),
  request_id: text,
  upstream_request_id: text.nullable(),
  upstream_id: text.meta({ description: 'the upstream that took the create (contract §10); its follow-ups all go there' }),
  created_at: time,
  completed_at: time.nullable(),
  settled_at: time.nullable(),
  late_completed_at: time.nullable().meta({ description: 'a completion seen after the job expired (never charged)' }),
  deleted_at: time.nullable(),
});

export const ledgerEntrySchema = z.object({
  id: text,
  kind: z.enum(['credit', 'hold', 'capture', 'release', 'adjustment']),
  amount_usd: usd.meta({ description: 'always positive; the kind says which way it moves' }),
  key_id: text,
  job_id: text.nullable(),
  video_id: text.nullable(),
  request_id: text.nullable(),
  actor: text,
  note: text.nullable(),
  created_at: time,
});

export const requestLogRowSchema = z.object({
  id: text.meta({ description: 'the row id (list cursor)' }),
  request_id: text,
  client_request_id: text.nullable(),
  upstream_request_id: text.nullable(),
  upstream_id: text.nullable().meta({ description: 'the upstream the request (or a failover attempt) reached; null when none' }),
  key_id: text.nullable(),
  method: text,
  route: text,
  video_id: text.nullable(),
  status: int,
  error_code: text.nullable(),
  duration_ms: int,
  upstream_duration_ms: int.nullable(),
  bytes_in: int,
  bytes_out: int,
  created_at: time,
});

export const jobDetailSchema = jobSchema.extend({
  archive_state: z
    .enum(['pending', 'archived', 'failed', 'deleted'])
    .nullable()
    .meta({ description: "the archive's copy of a completed job (contract §11): pending (to copy), archived, failed (the upstream's copy expired first) or deleted; null when the job has none (not completed, or ARCHIVE_URL=off)" }),
  archive_bytes: int.nullable().meta({ description: 'bytes archived so far (all variants); null when the job has no archive task' }),
  ledger: z.array(ledgerEntrySchema),
  requests: z.array(requestLogRowSchema).meta({ description: 'the create and every later call on the video id, oldest first (the newest 500)' }),
  requests_truncated: z.boolean(),
});

export const auditEntrySchema = z.object({
  id: text,
  actor: text,
  action: text.meta({ examples: ['key.create', 'key.update', 'key.revoke', 'key.credit', 'key.adjust'] }),
  target_id: text.nullable(),
  request_id: text.nullable(),
  details: z.unknown().meta({ description: 'what changed' }),
  created_at: time,
});

export const usageGroupSchema = z.object({
  group: text.meta({ description: 'the key id, the model, or the UTC day (YYYY-MM-DD) of submission' }),
  key_name: text.nullable().optional().meta({ description: 'with group_by=key only' }),
  jobs: int.meta({ description: 'billable jobs submitted, whatever their outcome' }),
  charged_jobs: int,
  billed_seconds: int,
  amount_usd: usd,
});

export const usageSummarySchema = z.object({
  group_by: z.enum(['key', 'model', 'day']),
  data: z.array(usageGroupSchema),
  total: usageGroupSchema.omit({ group: true, key_name: true }),
});

export const pricingModelSchema = z.object({
  model: text,
  pricing: z.enum(['per_second', 'per_request']),
  sizes: z.array(text),
  seconds: z.array(int),
  default_seconds: int,
  default_size: text,
  extension_seconds: z.array(int),
  per_second_usd: z.record(z.string(), usd).nullable().meta({ description: 'size → USD per generated second' }),
  per_request_usd: usd.nullable(),
});

export const exportRowSchema = z.object({
  video_id: text.nullable(),
  job_id: text,
  key_id: text,
  key_name: text.nullable(),
  kind: text,
  model: text,
  size: text,
  requested_seconds: int,
  seconds: int.meta({ description: 'billed seconds; 0 unless the job completed' }),
  pricing: z.enum(['per_second', 'per_request']),
  unit_price_usd: usd.meta({ description: 'the per-second rate, or the flat price of a per-request model' }),
  amount_usd: usd.meta({ description: 'what was charged' }),
  status: text.meta({ enum: JOB_STATUSES }),
  error_code: text.nullable(),
  created_at: time,
  completed_at: time.nullable(),
  request_id: text,
  upstream_request_id: text.nullable(),
  upstream_id: text,
});

export const upstreamSchema = z.object({
  id: text,
  base_url: text.nullable().meta({ description: 'null for a removed upstream' }),
  models: z.array(text).nullable().meta({ description: 'null: every priced model' }),
  priority: int.nullable(),
  weight: int.nullable(),
  enabled: z.boolean(),
  state: z.enum(['ok', 'cooling_down', 'disabled', 'removed']).meta({ description: '`removed`: jobs refer to it but UPSTREAMS_FILE no longer lists it' }),
  cooldown_until: time.nullable(),
  last_error: text.nullable(),
  inflight_jobs: int,
  max_inflight_jobs: int.nullable().meta({ description: 'null: no limit' }),
  jobs_24h: int.meta({ description: 'jobs it took in the last 24 h, in any state' }),
  failed_24h: int.meta({ description: 'of those, failed, expired or unknown' }),
  p50_seconds_to_complete: z.number().nullable().meta({ description: 'median time from submission to completion of the jobs it completed among those created in the last 24 h (null: none)' }),
  p95_seconds_to_complete: z.number().nullable().meta({ description: '95th percentile of the same (nearest rank)' }),
});

export const errorSchema = z.object({
  error: z.object({ message: text, type: text, param: text.nullable(), code: text }),
});

// The documented shapes are exactly what the presenters return (checked at compile time).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type PresenterChecks = [
  Check<Same<z.output<typeof keySchema>, ReturnType<typeof presentKey>>>,
  Check<Same<z.output<typeof jobSchema>, ReturnType<typeof presentJob>>>,
  Check<Same<z.output<typeof deliverySchema>, ReturnType<typeof presentDelivery>>>,
  Check<Same<z.output<typeof ledgerEntrySchema>, ReturnType<typeof presentLedger>>>,
  Check<Same<z.output<typeof requestLogRowSchema>, ReturnType<typeof presentRequest>>>,
  Check<Same<z.output<typeof auditEntrySchema>, ReturnType<typeof presentAudit>>>,
  Check<Same<z.output<typeof usageGroupSchema>, ReturnType<typeof presentUsageGroup>>>,
  Check<Same<z.output<typeof pricingModelSchema>, ReturnType<typeof presentPricing>[number]>>,
  Check<Same<keyof z.output<typeof exportRowSchema>, ExportColumn>>,
  Check<Same<z.output<typeof upstreamSchema>, UpstreamView>>,
];

// ---------------------------------------------------------------------------------------------
// Document

type JsonSchema = Record<string, unknown>;

/**
 * Drops noise from generated schemas: the ±2^53 bounds zod puts on every integer, and, in
 * responses, `additionalProperties: false` (fields may be added to responses later).
 */
function tidy(value: unknown, io: 'input' | 'output'): unknown {
  if (Array.isArray(value)) return value.map((v) => tidy(v, io));
  if (value === null || typeof value !== 'object') return value;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(value)) {
    if ((k === 'minimum' || k === 'maximum') && Math.abs(v as number) === Number.MAX_SAFE_INTEGER) continue;
    if (k === 'additionalProperties' && v === false && io === 'output') continue;
    out[k] = tidy(v, io);
  }
  return out;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return tidy(rest, io) as JsonSchema;
}

/** Each property of a query schema becomes one `in: query` parameter. */
function queryParameters(schema: z.ZodType): JsonSchema[] {
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return { name, in: 'query', required: (object.required ?? []).includes(name), ...(description !== undefined && { description }), schema: rest };
  });
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const listOf = (name: string) => ({
  type: 'object',
  properties: { data: { type: 'array', items: ref(name) }, has_more: { type: 'boolean' } },
  required: ['data', 'has_more'],
});
const json = (schema: JsonSchema, description: string) => ({ description, content: { 'application/json': { schema } } });
const errorRefs = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/E${s}` }]));
const idParam = (description: string) => ({ name: 'id', in: 'path', required: true, description, schema: { type: 'string' } });
const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema: jsonSchema(schema, 'input') } } });

function operation(summary: string, o: { query?: z.ZodType; path?: JsonSchema; body?: z.ZodType; ok: Record<string, unknown>; errors: number[] }) {
  const parameters = [...(o.path ? [o.path] : []), ...(o.query ? queryParameters(o.query) : [])];
  return {
    summary,
    ...(parameters.length > 0 && { parameters }),
    ...(o.body && { requestBody: body(o.body) }),
    responses: { ...o.ok, ...errorRefs(401, 403, ...o.errors, 429) },
  };
}

export function buildOpenApiDocument(): Record<string, unknown> {
  const keyId = idParam('the key id');
  const exportFormats = Object.fromEntries(
    (['text/csv', 'application/jsonl'] as const).map((type) => [type, { schema: { type: 'string' } }]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'reelay admin API',
      version: '1.0.0',
      description:
        'Keys, jobs, ledger, request log, billing export and audit trail of a reelay gateway. Authenticate with `Authorization: Bearer $ADMIN_TOKEN`; reelay API keys are refused (403). Lists are `{data, has_more}` with cursor `after` (the last item\'s `id`) and `limit` (1–1000, default 100). `from` is inclusive and `to` exclusive; both take a date (`2026-11-01`, midnight UTC) or a timestamp. USD amounts are decimal strings.',
    },
    servers: [{ url: '/' }],
    security: [{ adminToken: [] }],
    paths: {
      '/admin/keys': {
        get: operation('List keys (never their secrets)', { query: listKeysQuerySchema, ok: { 200: json(listOf('ApiKey'), 'a page of keys') }, errors: [400] }),
        post: operation('Create a key; the plaintext secret is in this response only', {
          body: createKeySchema,
          ok: { 201: json(ref('CreatedApiKey'), 'the new key with its secret') },
          errors: [400],
        }),
      },
      '/admin/keys/{id}': {
        get: operation('Show a key', { path: keyId, ok: { 200: json(ref('ApiKey'), 'the key') }, errors: [404] }),
        patch: operation('Change name, limits, allow-list, expiry, `disabled` or `webhook_url`', { path: keyId, body: patchKeySchema, ok: { 200: json(ref('ChangedApiKey'), 'the changed key') }, errors: [400, 404] }),
        delete: operation('Revoke a key (it answers 401 from then on; its history stays)', { path: keyId, ok: { 200: json(ref('ApiKey'), 'the revoked key') }, errors: [404] }),
      },
      '/admin/keys/{id}/credits': {
        post: operation('Top up (positive amount) or adjust (negative; never below zero available)', {
          path: keyId,
          body: creditSchema,
          ok: {
            201: json(
              { type: 'object', properties: { entry: ref('LedgerEntry'), key: ref('ApiKey') }, required: ['entry', 'key'] },
              'the ledger entry and the key after it',
            ),
          },
          errors: [400, 404],
        }),
      },
      '/admin/keys/{id}/webhook-secret': {
        post: operation('Rotate the webhook signing secret: the answer carries the new one; the previous one keeps signing for 24 hours', {
          path: keyId,
          ok: { 200: json(ref('RotatedApiKey'), 'the key and its new secret') },
          errors: [400, 404],
        }),
      },
      '/admin/webhooks/deliveries': {
        get: operation('Webhook events sent to clients, newest first, each with its delivery attempts', {
          query: deliveriesQuerySchema,
          ok: { 200: json(listOf('WebhookDelivery'), 'a page of events') },
          errors: [400],
        }),
      },
      '/admin/webhooks/events/{id}/redeliver': {
        post: operation('Send the event again now, whatever its status (same webhook-id and body, fresh timestamp and signature; its retry schedule starts again)', {
          path: idParam('the event id (evt_…)'),
          ok: { 202: json(ref('WebhookDelivery'), 'the event, due now') },
          errors: [404],
        }),
      },
      '/admin/jobs': {
        get: operation('List billable jobs', { query: jobsQuerySchema, ok: { 200: json(listOf('Job'), 'a page of jobs') }, errors: [400] }),
      },
      '/admin/jobs/{id}': {
        get: operation("One job's whole lifecycle: the job, its ledger entries and its request-log rows", {
          path: idParam("the video id or reelay's internal job id"),
          ok: { 200: json(ref('JobDetail'), 'the job') },
          errors: [404],
        }),
      },
      '/admin/ledger': {
        get: operation('List ledger entries', { query: ledgerQuerySchema, ok: { 200: json(listOf('LedgerEntry'), 'a page of entries') }, errors: [400] }),
      },
      '/admin/requests': {
        get: operation('Search the request log (newest first)', { query: requestsQuerySchema, ok: { 200: json(listOf('RequestLogRow'), 'a page of rows') }, errors: [400] }),
      },
      '/admin/usage/export': {
        get: operation('Billing export: one row per billable job submitted in the range, charged or not (streamed)', {
          query: usageExportQuerySchema,
          ok: {
            200: {
              description: `The rows, oldest first, as an attachment. CSV columns: ${EXPORT_COLUMNS.join(', ')}. JSONL: one ExportRow per line.`,
              headers: { 'content-disposition': { schema: { type: 'string' }, description: 'attachment; filename="reelay-usage-….csv"' } },
              content: { ...exportFormats, 'application/json': { schema: { type: 'array', items: ref('ExportRow') } } },
            },
          },
          errors: [400],
        }),
      },
      '/admin/usage/summary': {
        get: operation('Usage totals grouped by key, model or UTC day', { query: usageSummaryQuerySchema, ok: { 200: json(ref('UsageSummary'), 'the groups and their total') }, errors: [400] }),
      },
      '/admin/pricing': {
        get: operation('The effective price catalog', { ok: { 200: json(listOf('PricingModel'), 'every priced model') }, errors: [] }),
      },
      '/admin/audit': {
        get: operation('The audit trail of admin changes (newest first)', { query: auditQuerySchema, ok: { 200: json(listOf('AuditEntry'), 'a page of entries') }, errors: [400] }),
      },
      '/admin/upstreams': {
        get: operation('The upstreams (provider accounts): configuration, state, load and 24 h figures; never their credentials', {
          ok: { 200: json(listOf('Upstream'), 'every configured upstream, then removed ones that jobs refer to') },
          errors: [],
        }),
      },
      '/admin/upstreams/{id}': {
        patch: operation('Disable or enable an upstream at runtime (audited; never undone automatically)', {
          path: idParam('the upstream id'),
          body: patchUpstreamSchema,
          ok: { 200: json(ref('Upstream'), 'the upstream after the change') },
          errors: [400, 404],
        }),
      },
      '/admin/openapi.json': {
        get: operation('This document', { ok: { 200: json({ type: 'object' }, 'OpenAPI 3.1') }, errors: [] }),
      },
    },
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'the ADMIN_TOKEN' } },
      schemas: {
        ApiKey: jsonSchema(keySchema, 'output'),
        CreatedApiKey: jsonSchema(createdKeySchema, 'output'),
        ChangedApiKey: jsonSchema(changedKeySchema, 'output'),
        RotatedApiKey: jsonSchema(rotatedKeySchema, 'output'),
        WebhookDelivery: jsonSchema(deliverySchema, 'output'),
        Job: jsonSchema(jobSchema, 'output'),
        JobDetail: jsonSchema(jobDetailSchema, 'output'),
        LedgerEntry: jsonSchema(ledgerEntrySchema, 'output'),
        RequestLogRow: jsonSchema(requestLogRowSchema, 'output'),
        AuditEntry: jsonSchema(auditEntrySchema, 'output'),
        UsageSummary: jsonSchema(usageSummarySchema, 'output'),
        PricingModel: jsonSchema(pricingModelSchema, 'output'),
        ExportRow: jsonSchema(exportRowSchema, 'output'),
        Upstream: jsonSchema(upstreamSchema, 'output'),
        Error: jsonSchema(errorSchema, 'output'),
      },
      responses: {
        E400: json(ref('Error'), 'invalid_request: a bad parameter or body; `param` names it'),
        E401: json(ref('Error'), 'unauthorized: missing or wrong admin token'),
        E403: json(ref('Error'), 'forbidden: a reelay API key, or the admin API is disabled (no ADMIN_TOKEN)'),
        E404: json(ref('Error'), 'not_found'),
        E429: {
          ...json(ref('Error'), 'rate_limit_exceeded: too many wrong admin tokens from this client address (on the API or the dashboard login); wait `retry-after` seconds'),
          headers: { 'retry-after': { schema: { type: 'integer' }, description: 'seconds to wait' } },
        },
      },
    },
  };
}
