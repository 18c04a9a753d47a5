import type { Store } from '../db/store.js';
import type { KeyRow, NewKey } from '../db/keys-store.js';
import { ApiError } from '../errors.js';
import { hashKey, looksLikeReelayKey, displayPrefix, generateKeySecret } from './secret.js';
import { newId } from '../ids.js';

export type AuthenticatedKey = KeyRow;

/** Why a key is refused, for the log; the client always sees the same 401. */
export function keyRefusal(key: KeyRow | undefined, now: number): string | null {
  if (!key) return 'unknown key';
  if (key.revokedAt !== null) return 'revoked';
  if (key.disabled) return 'disabled';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  return null;
}

/** Resolves the bearer secret to an active key or throws 401 invalid_api_key. */
export async function authenticateKey(store: Store, authorization: string | undefined, now: number): Promise<AuthenticatedKey> {
  const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!m) {
    throw new ApiError('invalid_api_key', 'You didn\'t provide an API key. Use "Authorization: Bearer sk-reelay-…".');
  }
  const secret = m[1]!;
  const key = looksLikeReelayKey(secret) ? await store.findKeyForAuth(hashKey(secret)) : undefined;
  if (keyRefusal(key, now) !== null) {
    throw new ApiError('invalid_api_key', 'Incorrect, revoked, disabled or expired API key provided.');
  }
  return key!;
}

export interface CreateKeyInput {
  name: string;
  expiresAt?: number | null;
  allowedModels?: string[] | null;
  rpmLimit?: number | null;
  maxInflightJobs?: number | null;
  /** Concurrent content downloads; null means the default (8). */
  maxConcurrentDownloads?: number | null;
  /** A webhook URL, already checked (src/keys/webhook.ts). */
  webhookUrl?: string | null;
}

/** A new key's row and its plaintext secret (the only time it exists); nothing is stored yet. */
export function newKeyRecord(input: CreateKeyInput, now: number): { record: NewKey; secret: string } {
  const secret = generateKeySecret();
  return {
    secret,
    record: {
      id: newId('key'),
      name: input.name,
      prefix: displayPrefix(secret),
      hash: hashKey(secret),
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
      allowedModels: input.allowedModels ?? null,
      rpmLimit: input.rpmLimit ?? null,
      maxInflightJobs: input.maxInflightJobs ?? null,
      maxConcurrentDownloads: input.maxConcurrentDownloads ?? null,
      webhookUrl: input.webhookUrl ?? null,
    },
  };
}

/**
 * Inserts a key and returns the row with the plaintext secret. No credit, no audit entry:
 * operators' creates go through createKeyWithCredit (keys/create.ts).
 */
export async function createKey(store: Store, input: CreateKeyInput, now: number): Promise<{ key: KeyRow; secret: string }> {
  const { record, secret } = newKeyRecord(input, now);
  return { key: await store.createKey(record), secret };
}
