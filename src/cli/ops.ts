import type { presentKey, presentLedger, presentRequest } from '../admin/present.js';
import type { usageSummary } from '../admin/usage-routes.js';
import { ConfigError } from '../config.js';
import { localOps } from './local.js';
import { remoteOps } from './remote.js';

export type KeyObject = ReturnType<typeof presentKey>;
export type RequestRow = ReturnType<typeof presentRequest>;

/** A piece of an export: text for stdout or the file, and how many data rows it holds when known. */
export interface ExportPiece {
  data: string | Uint8Array;
  rows?: number;
}

/**
 * What the CLI's commands do, over the local database or through a server's admin API. Inputs
 * are the admin API's own bodies and queries (already validated by the command); outputs are its
 * objects, so both modes print the same thing. Unknown ids throw NothingFound, refusals Refused.
 */
export interface AdminOps {
  /** The new key with its secret in `key`, and `webhook_secret` when it was given a webhook_url. */
  createKey(body: Record<string, unknown>): Promise<KeyObject & { key: string; webhook_secret?: string }>;
  /** PATCH /admin/keys/{id}; `webhook_secret` when this change gave the key its first webhook secret. */
  updateKey(id: string, body: Record<string, unknown>): Promise<KeyObject & { webhook_secret?: string }>;
  /** POST /admin/keys/{id}/webhook-secret: the key with its new secret; the previous one signs until `previous_secret_expires_at`. */
  rotateWebhookSecret(id: string): Promise<KeyObject & { webhook_secret: string; previous_secret_expires_at: string }>;
  listKeys(): AsyncIterable<KeyObject>;
  getKey(id: string): Promise<KeyObject>;
  revokeKey(id: string): Promise<KeyObject>;
  credit(id: string, body: { amount_usd: string; note?: string }): Promise<{ entry: ReturnType<typeof presentLedger>; key: KeyObject }>;
  usageExport(query: Record<string, string>): AsyncIterable<ExportPiece>;
  usageSummary(query: Record<string, string>): Promise<Awaited<ReturnType<typeof usageSummary>>>;
  /** Request-log rows whose reelay, client or upstream request id, or video id, is `id`; oldest first. */
  findRequests(id: string): Promise<RequestRow[]>;
  close(): Promise<void>;
}

/**
 * REELAY_URL (the server's root URL) with ADMIN_TOKEN: through that server's admin API.
 * Otherwise the database on DATABASE_URL, which must exist.
 */
export async function openOps(env: NodeJS.ProcessEnv = process.env): Promise<AdminOps> {
  const url = env.REELAY_URL?.trim();
  if (!url) return localOps();
  const token = env.ADMIN_TOKEN?.trim();
  if (!token) throw new ConfigError('ADMIN_TOKEN: must be set with REELAY_URL (the admin token of that server)');
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new ConfigError(`REELAY_URL: '${url}' is not a URL; use the server's root URL, e.g. http://127.0.0.1:8080`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new ConfigError('REELAY_URL: must be an http:// or https:// URL');
  return remoteOps(base, token);
}
