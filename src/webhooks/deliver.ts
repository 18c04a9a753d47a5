import { Agent, request } from 'undici';
import type { LookupFunction } from 'node:net';
import { parseWebhookUrl, resolveWebhookHost, WebhookAddressError, type Lookup } from './address.js';
import { webhookHeaders } from './sign.js';

/**
 * One delivery attempt of a webhook event (contract §12): a POST of the event's exact body, signed
 * with every valid secret, to the address checked just now, given up at 10 s; redirects are not
 * followed; at most a few KiB of the answer are read; only a 2xx counts.
 */

export const ATTEMPT_TIMEOUT_MS = 10_000;
/** The most of an endpoint's answer that is read (and thrown away) before the connection is closed. */
export const MAX_ANSWER_BYTES = 4096;

/** How an attempt ended; the metrics count attempts by it (reelay_webhook_deliveries_total{result}). */
export type AttemptKind = 'delivered' | 'http_error' | 'timeout' | 'network_error' | 'refused';

export interface AttemptResult {
  kind: AttemptKind;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface AttemptOptions {
  url: string;
  eventId: string;
  body: string;
  secrets: readonly string[];
  allowPrivate: boolean;
  /** For the webhook-timestamp header (unix seconds of it). */
  now: () => number;
  timeoutMs?: number;
  lookup?: Lookup;
  /** Aborts the attempt (shutdown). */
  signal?: AbortSignal;
}

/**
 * An Agent whose every connection goes to `address`, whatever the name resolves to by then: the
 * address that was checked is the address connected to. One per attempt, closed after it, so no
 * connection outlives the check it was made under.
 */
function pinnedAgent(address: string, family: 4 | 6, timeoutMs: number): Agent {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  return new Agent({ connect: { lookup, timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, pipelining: 0 });
}

export async function attemptDelivery(o: AttemptOptions): Promise<AttemptResult> {
  const started = performance.now();
  const timeoutMs = o.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const elapsed = () => Math.round(performance.now() - started);
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = o.signal ? AbortSignal.any([deadline, o.signal]) : deadline;
  let agent: Agent | undefined;
  try {
    const url = parseWebhookUrl(o.url);
    const target = await Promise.race([
      resolveWebhookHost(url, { allowPrivate: o.allowPrivate, lookup: o.lookup }),
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    ]);
    agent = pinnedAgent(target.address, target.family, timeoutMs);
    const res = await request(url, {
      method: 'POST',
      headers: webhookHeaders(o.eventId, o.body, o.secrets, o.now()),
      body: o.body,
      dispatcher: agent,
      signal,
    });
    // Read at most a little of the answer: nothing in it matters but its status.
    let read = 0;
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length;
      if (read >= MAX_ANSWER_BYTES) break;
    }
    if (read >= MAX_ANSWER_BYTES) res.body.destroy();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    return { kind: ok ? 'delivered' : 'http_error', statusCode: res.statusCode, error: ok ? null : `HTTP ${res.statusCode}`, durationMs: elapsed() };
  } catch (err) {
    if (err instanceof WebhookAddressError) return { kind: 'refused', statusCode: null, error: `refused: ${err.message}`, durationMs: elapsed() };
    if (deadline.aborted) return { kind: 'timeout', statusCode: null, error: `no answer within ${timeoutMs / 1000} s`, durationMs: elapsed() };
    if (o.signal?.aborted) return { kind: 'network_error', statusCode: null, error: 'abandoned: reelay was stopping', durationMs: elapsed() };
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const code = e.cause?.code ?? e.code;
    const message = (e.cause?.message ?? e.message ?? String(err)).slice(0, 200);
    return { kind: 'network_error', statusCode: null, error: code ? `${code}: ${message}` : message, durationMs: elapsed() };
  } finally {
    agent?.destroy().catch(() => {});
  }
}
