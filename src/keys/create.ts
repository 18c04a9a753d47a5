import type { Store } from '../db/store.js';
import type { KeyRow } from '../db/keys-store.js';
import { BalanceError, type Actor } from '../db/billing-store.js';
import { ApiError } from '../errors.js';
import { formatUsd } from '../money.js';
import { newKeyRecord, type CreateKeyInput } from './service.js';
import { newSecretRecord } from './webhook.js';

export interface NewKeyRequest extends CreateKeyInput {
  /** Initial credit in micro-USD (0 or absent: none). */
  creditMicros?: number;
  /** The ledger note of the initial credit. */
  creditNote?: string;
}

/**
 * Creates a key with its initial credit and its audit entry as ONE transaction: the admin API,
 * the dashboard, the CLI and the demo all create keys through here. A credit that is refused
 * (negative, not a whole number of micro-USD, beyond what a balance may hold) throws a 400
 * naming `credit_usd`, and no key is left behind.
 */
export async function createKeyWithCredit(store: Store, input: NewKeyRequest, who: Actor): Promise<{ key: KeyRow; secret: string; webhookSecret?: string }> {
  const credit = input.creditMicros ?? 0;
  if (!Number.isSafeInteger(credit) || credit < 0) throw refused('credit_usd must be a non-negative amount of at most 6 decimals.');
  const { record, secret } = newKeyRecord(input, who.now);
  try {
    const key = await store.createKey(record, {
      who,
      credit: { micros: credit, note: input.creditNote ?? 'initial credit' },
      audit: { action: 'key.create', targetId: record.id, details: auditDetails(input, credit) },
      ...(input.webhookUrl && { webhookSecret: newSecretRecord() }),
    });
    const { issuedWebhookSecret, ...row } = key;
    return { key: row, secret, ...(issuedWebhookSecret !== undefined && { webhookSecret: issuedWebhookSecret }) };
  } catch (err) {
    // Refused inside the transaction, so the key insert was rolled back with it.
    if (err instanceof BalanceError) throw refused(`credit_usd was refused: ${err.message}.`);
    throw err;
  }
}

const refused = (message: string) => new ApiError('invalid_request', message, 'credit_usd');

/** What the new key was given, in the admin API's field names (unset limits are left out). */
function auditDetails(input: NewKeyRequest, credit: number): Record<string, unknown> {
  return {
    name: input.name,
    credit_usd: credit > 0 ? formatUsd(credit) : null,
    ...(input.allowedModels != null && { allowed_models: input.allowedModels }),
    ...(input.rpmLimit != null && { rpm_limit: input.rpmLimit }),
    ...(input.maxInflightJobs != null && { max_inflight_jobs: input.maxInflightJobs }),
    ...(input.maxConcurrentDownloads != null && { max_concurrent_downloads: input.maxConcurrentDownloads }),
    ...(input.expiresAt != null && { expires_at: new Date(input.expiresAt).toISOString() }),
    ...(input.webhookUrl != null && { webhook_url: input.webhookUrl }),
  };
}
