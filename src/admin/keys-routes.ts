import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/context.js';
import type { Deps } from '../deps.js';
import { createKey } from '../keys/service.js';
import { ApiError, notFound } from '../errors.js';
import { presentKey, presentLedger } from './present.js';
import { jsonBody, queryParams, usdAmount, isoTime, listLimit, afterCursor } from './input.js';
import { BalanceError } from '../db/billing-store.js';
import { formatUsd } from '../money.js';

const modelList = z.array(z.string().min(1).max(200)).max(100).nullable();
const limits = {
  allowed_models: modelList.optional(),
  rpm_limit: z.number().int().positive().max(1_000_000).nullable().optional(),
  max_inflight_jobs: z.number().int().positive().max(1_000_000).nullable().optional(),
  expires_at: isoTime.nullable().optional(),
};

export const createKeySchema = z
  .object({ name: z.string().trim().min(1).max(200), credit_usd: usdAmount.optional(), ...limits })
  .strict();
export const patchKeySchema = z
  .object({ name: z.string().trim().min(1).max(200).optional(), disabled: z.boolean().optional(), ...limits })
  .strict();
export const creditSchema = z.object({ amount_usd: usdAmount, note: z.string().max(1000).optional() }).strict();
export const listKeysQuerySchema = z.object({ after: afterCursor, limit: listLimit }).strict();

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
    if (body.credit_usd !== undefined && body.credit_usd < 0) throw new ApiError('invalid_request', 'credit_usd must not be negative.', 'credit_usd');
    const w = who(c);
    const { key, secret } = createKey(
      deps.store,
      {
        name: body.name,
        expiresAt: body.expires_at ?? null,
        allowedModels: body.allowed_models ?? null,
        rpmLimit: body.rpm_limit ?? null,
        maxInflightJobs: body.max_inflight_jobs ?? null,
      },
      w.now,
    );
    if (body.credit_usd) deps.store.appendCredit(key.id, body.credit_usd, 'initial credit', w);
    deps.store.appendAudit({ ...w, action: 'key.create', targetId: key.id, details: { name: body.name, credit_usd: body.credit_usd ? formatUsd(body.credit_usd) : null } });
    return c.json({ ...presentKey(deps.store.getKey(key.id)!), key: secret }, 201);
  });

  app.get('/', (c) => {
    const q = queryParams(c, listKeysQuerySchema);
    const rows = deps.store.listKeys({ after: q.after, limit: q.limit + 1 });
    return c.json({ data: rows.slice(0, q.limit).map(presentKey), has_more: rows.length > q.limit });
  });

  app.get('/:id', (c) => {
    const key = deps.store.getKey(c.req.param('id'));
    if (!key) throw notFound('key');
    return c.json(presentKey(key));
  });

  app.patch('/:id', async (c) => {
    const id = c.req.param('id');
    if (!deps.store.getKey(id)) throw notFound('key');
    const body = await jsonBody(c, patchKeySchema);
    const patch = {
      ...(body.name !== undefined && { name: body.name }),
      ...(body.disabled !== undefined && { disabled: body.disabled }),
      ...(body.allowed_models !== undefined && { allowedModels: body.allowed_models }),
      ...(body.rpm_limit !== undefined && { rpmLimit: body.rpm_limit }),
      ...(body.max_inflight_jobs !== undefined && { maxInflightJobs: body.max_inflight_jobs }),
      ...(body.expires_at !== undefined && { expiresAt: body.expires_at }),
    };
    const key = deps.store.updateKey(id, patch)!;
    const details = body.expires_at === undefined ? body : { ...body, expires_at: body.expires_at === null ? null : new Date(body.expires_at).toISOString() };
    deps.store.appendAudit({ ...who(c), action: 'key.update', targetId: id, details });
    return c.json(presentKey(key));
  });

  app.delete('/:id', (c) => {
    const id = c.req.param('id');
    if (!deps.store.getKey(id)) throw notFound('key');
    const w = who(c);
    const key = deps.store.revokeKey(id, w.now)!;
    deps.store.appendAudit({ ...w, action: 'key.revoke', targetId: id, details: null });
    return c.json(presentKey(key));
  });

  app.post('/:id/credits', async (c) => {
    const id = c.req.param('id');
    if (!deps.store.getKey(id)) throw notFound('key');
    const body = await jsonBody(c, creditSchema);
    if (body.amount_usd === 0) throw new ApiError('invalid_request', 'amount_usd must not be zero.', 'amount_usd');
    const w = who(c);
    let entry;
    try {
      entry = deps.store.appendCredit(id, body.amount_usd, body.note ?? null, w);
    } catch (err) {
      if (err instanceof BalanceError) throw new ApiError('invalid_request', 'The adjustment would take the available balance below zero.', 'amount_usd');
      throw err;
    }
    deps.store.appendAudit({ ...w, action: body.amount_usd > 0 ? 'key.credit' : 'key.adjust', targetId: id, details: { amount_usd: formatUsd(body.amount_usd), note: body.note ?? null } });
    return c.json({ entry: presentLedger(entry), key: presentKey(deps.store.getKey(id)!) }, 201);
  });

  return app;
}
