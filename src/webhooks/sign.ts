import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing, as OpenAI signs its own webhooks (contract §12), so that the official
 * SDKs' `client.webhooks.unwrap(body, headers, secret)` accepts reelay's events unchanged.
 */

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The HMAC key of a secret: the bytes after `whsec_`. */
function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret, space-separated. */
export function signatureHeader(id: string, timestampSec: number, body: string, secrets: readonly string[]): string {
  const content = `${id}.${timestampSec}.${body}`;
  return secrets.map((s) => `v1,${createHmac('sha256', secretBytes(s)).update(content).digest('base64')}`).join(' ');
}

/** The headers of one attempt: the same webhook-id every time, a fresh timestamp and signature. */
export function webhookHeaders(id: string, body: string, secrets: readonly string[], nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'reelay-webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(id, timestamp, body, secrets),
  };
}
