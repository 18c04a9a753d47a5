import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { createKeyWithCredit, type NewKeyRequest } from '../keys/create.js';
import { ApiError, notFound } from '../errors.js';
import { presentKey, presentLedger } from './present.js';
import { jsonBody, queryParams, usdAmount, isoTime, listLimit, afterCursor } from './input.js';
import { BalanceError } from '../db/billing-store.js';
import { formatUsd } from '../money.js';
import { checkedWebhookUrl, newSecretRecord, rotateWebhookSecret } from '../keys/webhook.js';
import { MAX_WEBHOOK_URL_LENGTH } from '../webhooks/address.js';
import type { KeyPatch } from '../store/types.js';

/** The largest per-key download limit an operator may set, and what a key without one gets. */
export const MAX_CONCURRENT_DOWNLOADS_LIMIT = 1000;
export const DEFAULT_CONCURRENT_DOWNLOADS = 8;

const modelList = z.array(z.string().min(1).max(200)).max(100).nullable();
const limits = {
  allowed_models: modelList.optional(),
  rpm_limit: z.number().int().positive().max(1_000_000).nullable().optional(),
  max_inflight_jobs: z.number().int().positive().max(1_000_000).nullable().optional(),
  max_concurrent_downloads: z
    .number()
    .int()
    .positive()
    .max(MAX_CONCURRENT_DOWNLOADS_LIMIT)
    .nullable()
    .optional()
    .meta({ description: `content downloads this key may hold open at once (1–${MAX_CONCURRENT_DOWNLOADS_LIMIT}); null: the default (${DEFAULT_CONCURRENT_DOWNLOADS})` }),
  expires_at: isoTime.nullable().optional(),
  webhook_url: z
    .string()
    .min(1)
    .max(MAX_WEBHOOK_URL_LENGTH)
    .nullable()
    .optional()
    .meta({ description: 'where this key’s webhook events go (http or https); null removes the endpoint. The first URL a key gets issues its webhook_secret, shown in that answer only' }),
};

export const createKeySchema = z
  .object({ name: z.string().trim().min(1).max(200), credit_usd: usdAmount.refine((v) => v >= 0, 'must not be negative').optional(), ...limits })
  .strict();
export const patchKeySchema = z
  .object({ name: z.string().trim().min(1).max(200).optional(), disabled: z.boolean().optional(), ...limits })
  .strict();
export const creditSchema = z.object({ amount_usd: usdAmount, note: z.string().max(1000).optional() }).strict();
export const listKeysQuerySchema = z.object({ after: afterCursor, limit: listLimit }).strict();

/** A validated create body (API or dashboard form) → the domain's request. */
export function newKeyRequest(body: z.output<typeof createKeySchema>): NewKeyRequest {
  return {
    name: body.name,
    creditMicros: body.credit_usd ?? 0,
    expiresAt: body.expires_at ?? null,
    allowedModels: body.allowed_models ?? null,
    rpmLimit: body.rpm_limit ?? null,
    maxInflightJobs: body.max_inflight_jobs ?? null,
    maxConcurrentDownloads: body.max_concurrent_downloads ?? null,
    webhookUrl: body.webhook_url ?? null,
  };
}

/** A validated PATCH body (API or CLI) → the store's patch: only the fields given. */
export function keyPatchOf(body: z.output<typeof patchKeySchema>): KeyPatch {
  return {
    ...(body.name !== undefined && { name: body.name }),
    ...(body.disabled !== undefined && { disabled: body.disabled }),
    ...(body.allowed_models !== undefined && { allowedModels: body.allowed_models }),
    ...(body.rpm_limit !== undefined && { rpmLimit: body.rpm_limit }),
    ...(body.max_inflight_jobs !== undefined && { maxInflightJobs: body.max_inflight_jobs }),
    ...(body.max_concurrent_downloads !== undefined && { maxConcurrentDownloads: body.max_concurrent_downloads }),
    ...(body.expires_at !== undefined && { expiresAt: body.expires_at }),
    ...(body.webhook_url !== undefined && { webhookUrl: body.webhook_url }),
  };
}

/** The audit details of a PATCH: the body as given, with an expiry as an ISO time. */
export function patchAuditDetails(body: z.output<typeof patchKeySchema>): Record<string, unknown> {
  return body.expires_at === undefined ? body : { ...body, expires_at: body.expires_at === null ? null : new Date(body.expires_at).toISOString() };
}

/** /admin/keys: create (secret shown once), list, show, change, revoke, credit. */
export function keysRoutes(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const who = (c: { get: (k: 'state' | 'adminActor') => unknown }) => ({
    actor: c.get('adminActor') as string,
    requestId: (c.get('state') as { requestId: string }).requestId,
    now: deps.now(),
  });

  app.post('/', async (c) => {
    const body = await jsonBody(c, createKeySchema);
    if (body.webhook_url) body.webhook_url = await checkedWebhookUrl(body.webhook_url, deps.config.webhookAllowPrivate);
    const { key, secret, webhookSecret } = await createKeyWithCredit(deps.store, newKeyRequest(body), who(c));
    return c.json({ ...presentKey(key), key: secret, ...(webhookSecret !== undefined && { webhook_secret: webhookSecret }) }, 201);
  });

  app.get('/', async (c) => {
    const q = queryParams(c, listKeysQuerySchema);
    const rows = await deps.store.listKeys({ after: q.after, limit: q.limit + 1 });
    return c.json({ data: rows.slice(0, q.limit).map(presentKey), has_more: rows.length > q.limit });
  });

  app.get('/:id', async (c) => {
    const key = await deps.store.getKey(c.req.param('id'));
    if (!key) throw notFound('key');
    return c.json(presentKey(key));
  });

  app.patch('/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) throw notFound('key');
    const body = await jsonBody(c, patchKeySchema);
    if (body.webhook_url) body.webhook_url = await checkedWebhookUrl(body.webhook_url, deps.config.webhookAllowPrivate);
    const updated = await deps.store.updateKey(id, keyPatchOf(body), { who: who(c), entry: { action: 'key.update', targetId: id, details: patchAuditDetails(body) } }, body.webhook_url ? newSecretRecord() : undefined);
    if (!updated) throw notFound('key');
    const { issuedWebhookSecret, ...key } = updated;
    return c.json({ ...presentKey(key), ...(issuedWebhookSecret !== undefined && { webhook_secret: issuedWebhookSecret }) });
  });

  // Rotation: the answer carries the new secret; the previous one keeps signing for 24 hours.
  app.post('/:id/webhook-secret', async (c) => {
    const { key, secret, previousExpiresAt } = await rotateWebhookSecret(deps.store, c.req.param('id'), who(c));
    return c.json({ ...presentKey(key), webhook_secret: secret, previous_secret_expires_at: new Date(previousExpiresAt).toISOString() });
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) throw notFound('key');
    const w = who(c);
    const key = (await deps.store.revokeKey(id, w.now, { who: w, entry: { action: 'key.revoke', targetId: id, details: null } }))!;
    return c.json(presentKey(key));
  });

  app.post('/:id/credits', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) throw notFound('key');
    const body = await jsonBody(c, creditSchema);
    if (body.amount_usd === 0) throw new ApiError('invalid_request', 'amount_usd must not be zero.', 'amount_usd');
    const w = who(c);
    let entry;
    try {
      entry = await deps.store.appendCredit(id, body.amount_usd, body.note ?? null, w, {
        action: body.amount_usd > 0 ? 'key.credit' : 'key.adjust',
        targetId: id,
        details: { amount_usd: formatUsd(body.amount_usd), note: body.note ?? null },
      });
    } catch (err) {
      if (err instanceof BalanceError) throw new ApiError('invalid_request', `amount_usd was refused: ${err.message}.`, 'amount_usd');
      throw err;
    }
    return c.json({ entry: presentLedger(entry), key: presentKey((await deps.store.getKey(id))!) }, 201);
  });

  return app;
}
