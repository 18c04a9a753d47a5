import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { BalanceError } from '../../../db/billing-store.js';
import { createKeyWithCredit } from '../../../keys/create.js';
import { ApiError } from '../../../errors.js';
import { formatUsd } from '../../../money.js';
import { createKeySchema, patchKeySchema, creditSchema, newKeyRequest } from '../../keys-routes.js';
import { firstIssue } from '../../input.js';
import { BASE, notFoundPage } from '../layout.js';
import { field, usd } from '../format.js';
import { flash, formOf, seeOther, who, type UiEnv } from '../context.js';
import { EMPTY_FORM, keysList, readKeyListQuery, type CreateForm } from './keys-list.js';
import { keyDetail } from './key-detail.js';
import { registerWebhookPages } from './webhooks.js';

/** The key routes: list and create, a key's page, top-up or adjust, limits, webhooks (pages/webhooks.ts), revoke. */
const FIRST_PAGE = readKeyListQuery(() => undefined);

/** "a, b c" → ["a","b","c"]; empty → `empty`. */
function modelsOf(raw: string, empty: null | undefined): string[] | null | undefined {
  const list = raw.split(/[\s,]+/).filter(Boolean);
  return list.length === 0 ? empty : list;
}
/** A whole number field; empty → `empty`; anything else is passed on for zod to refuse by name. */
function intOf(raw: string, empty: null | undefined): number | string | null | undefined {
  const t = raw.trim();
  if (!t) return empty;
  return /^\d{1,9}$/.test(t) ? Number(t) : t;
}

export function registerKeyPages(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/keys', async (c) => c.html(await keysList(deps, c.get('session'), readKeyListQuery((n) => c.req.query(n)), EMPTY_FORM, null)));

  app.post('/keys', async (c) => {
    const form = formOf(c);
    const f: CreateForm = {
      name: field(form.get('name'), 300),
      credit_usd: field(form.get('credit_usd'), 40),
      allowed_models: field(form.get('allowed_models'), 5000),
      rpm_limit: field(form.get('rpm_limit'), 20),
      max_inflight_jobs: field(form.get('max_inflight_jobs'), 20),
      max_concurrent_downloads: field(form.get('max_concurrent_downloads'), 20),
      expires_at: field(form.get('expires_at'), 40),
    };
    const input = {
      name: f.name,
      ...(f.credit_usd && { credit_usd: f.credit_usd }),
      allowed_models: modelsOf(f.allowed_models, undefined),
      rpm_limit: intOf(f.rpm_limit, undefined),
      max_inflight_jobs: intOf(f.max_inflight_jobs, undefined),
      max_concurrent_downloads: intOf(f.max_concurrent_downloads, undefined),
      expires_at: f.expires_at || undefined,
    };
    const parsed = createKeySchema.safeParse(input);
    if (!parsed.success) return c.html(await keysList(deps, c.get('session'), FIRST_PAGE, f, firstIssue(parsed.error).message), 400);
    let created;
    try {
      created = await createKeyWithCredit(deps.store, newKeyRequest(parsed.data), who(c, deps));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400) throw err;
      return c.html(await keysList(deps, c.get('session'), FIRST_PAGE, f, err.message), 400);
    }
    const { key, secret } = created;
    const body = parsed.data;
    c.get('session').revealOnce = { keyId: key.id, secret };
    flash(c, 'ok', `Key "${body.name}" created.`);
    return seeOther(c, `${BASE}/keys/${encodeURIComponent(key.id)}`);
  });

  app.get('/keys/:id', async (c) => {
    const key = await deps.store.getKey(c.req.param('id'));
    if (!key) return c.html(notFoundPage(c.get('session')), 404);
    return c.html(await keyDetail(deps, c.get('session'), key, { from: field(c.req.query('from'), 40), to: field(c.req.query('to'), 40) }));
  });

  app.post('/keys/:id/credit', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) return c.html(notFoundPage(c.get('session')), 404);
    const form = formOf(c);
    const back = `${BASE}/keys/${encodeURIComponent(id)}`;
    const note = field(form.get('note'), 1000);
    const parsed = creditSchema.safeParse({ amount_usd: field(form.get('amount_usd'), 40), ...(note && { note }) });
    if (!parsed.success) {
      flash(c, 'error', firstIssue(parsed.error).message);
      return seeOther(c, back);
    }
    const amount = parsed.data.amount_usd;
    if (amount === 0) {
      flash(c, 'error', 'amount_usd: must not be zero');
      return seeOther(c, back);
    }
    const w = who(c, deps);
    try {
      await deps.store.appendCredit(id, amount, parsed.data.note ?? null, w, {
        action: amount > 0 ? 'key.credit' : 'key.adjust',
        targetId: id,
        details: { amount_usd: formatUsd(amount), note: parsed.data.note ?? null },
      });
    } catch (err) {
      if (!(err instanceof BalanceError)) throw err;
      flash(c, 'error', 'The adjustment would take the available balance below zero.');
      return seeOther(c, back);
    }
    const after = (await deps.store.getKey(id))!;
    flash(c, 'ok', `${amount > 0 ? 'Added' : 'Deducted'} ${usd(Math.abs(amount))}. Balance is now ${usd(after.balanceMicros)}.`);
    return seeOther(c, back);
  });

  app.post('/keys/:id/limits', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.getKey(id))) return c.html(notFoundPage(c.get('session')), 404);
    const form = formOf(c);
    const back = `${BASE}/keys/${encodeURIComponent(id)}`;
    const parsed = patchKeySchema.safeParse({
      name: field(form.get('name'), 300),
      disabled: form.get('disabled') === '1',
      allowed_models: modelsOf(field(form.get('allowed_models'), 5000), null),
      rpm_limit: intOf(field(form.get('rpm_limit'), 20), null),
      max_inflight_jobs: intOf(field(form.get('max_inflight_jobs'), 20), null),
      max_concurrent_downloads: intOf(field(form.get('max_concurrent_downloads'), 20), null),
      expires_at: field(form.get('expires_at'), 40) || null,
    });
    if (!parsed.success) {
      flash(c, 'error', firstIssue(parsed.error).message);
      return seeOther(c, back);
    }
    const b = parsed.data;
    await deps.store.updateKey(
      id,
      {
        name: b.name,
        disabled: b.disabled,
        allowedModels: b.allowed_models ?? null,
        rpmLimit: b.rpm_limit ?? null,
        maxInflightJobs: b.max_inflight_jobs ?? null,
        maxConcurrentDownloads: b.max_concurrent_downloads ?? null,
        expiresAt: b.expires_at ?? null,
      },
      { who: who(c, deps), entry: { action: 'key.update', targetId: id, details: { ...b, expires_at: b.expires_at ? new Date(b.expires_at).toISOString() : null } } },
    );
    flash(c, 'ok', 'Limits saved.');
    return seeOther(c, back);
  });

  registerWebhookPages(app, deps);

  app.post('/keys/:id/revoke', async (c) => {
    const id = c.req.param('id');
    const key = await deps.store.getKey(id);
    if (!key) return c.html(notFoundPage(c.get('session')), 404);
    const back = `${BASE}/keys/${encodeURIComponent(id)}`;
    if (key.revokedAt !== null) {
      flash(c, 'error', 'This key was already revoked.');
      return seeOther(c, back);
    }
    const w = who(c, deps);
    await deps.store.revokeKey(id, w.now, { who: w, entry: { action: 'key.revoke', targetId: id, details: null } });
    flash(c, 'ok', `Key "${key.name}" revoked.`);
    return seeOther(c, back);
  });
}
