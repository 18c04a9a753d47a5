import type { Store } from '../store/store.js';
import type { Actor, NewWebhookSecret } from '../store/types.js';
import type { KeyRow } from '../store/rows.js';
import { ApiError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { checkWebhookUrl, WebhookAddressError } from '../webhooks/address.js';
import { newWebhookSecret } from '../webhooks/sign.js';

/**
 * A key's webhook endpoint (contract §12): the URL an admin sets is checked before anything is
 * stored; the secret is made here and stored only when the key has none (the store decides, in
 * the transaction), and shown that once.
 */

/** After a rotation, the previous secret keeps signing this long. */
export const WEBHOOK_SECRET_OVERLAP_MS = 24 * 3600_000;

/** A webhook URL an admin may set (http/https, resolving to allowed addresses), or a 400 naming webhook_url. */
export async function checkedWebhookUrl(raw: string, allowPrivate: boolean): Promise<string> {
  try {
    return await checkWebhookUrl(raw, { allowPrivate });
  } catch (err) {
    if (err instanceof WebhookAddressError) throw new ApiError('invalid_request', `webhook_url ${err.message}.`, 'webhook_url');
    throw err;
  }
}

/** A new secret to store (with its row id). */
export function newSecretRecord(): NewWebhookSecret {
  return { id: newId('whs'), secret: newWebhookSecret() };
}

/** Rotates the key's secret; the answer carries the new one. 404 for an unknown key, 400 for a key without a webhook URL. */
export async function rotateWebhookSecret(store: Store, keyId: string, who: Actor): Promise<{ key: KeyRow; secret: string; previousExpiresAt: number }> {
  const next = newSecretRecord();
  const key = await store.rotateWebhookSecret(keyId, next, who.now, WEBHOOK_SECRET_OVERLAP_MS, {
    who,
    entry: { action: 'key.webhook_secret.rotate', targetId: keyId, details: { previous_secret_expires_at: new Date(who.now + WEBHOOK_SECRET_OVERLAP_MS).toISOString() } },
  });
  if (key === undefined) throw notFound('key');
  if (key === 'no_endpoint') throw new ApiError('invalid_request', 'This key has no webhook_url; set one first (its answer carries the secret).', 'webhook_url');
  return { key, secret: next.secret, previousExpiresAt: who.now + WEBHOOK_SECRET_OVERLAP_MS };
}
