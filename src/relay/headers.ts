/**
 * Header filtering in both directions (pure). Hop-by-hop headers and every header named in
 * `Connection` are dropped; the client's credentials never reach the upstream and the upstream's
 * account headers never reach the client. Values with CR, LF or NUL are never forwarded.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers that reelay owns or that describe the client's own credential. */
const NOT_FORWARDED_UPSTREAM = new Set([
  'host',
  'authorization',
  'cookie',
  'content-length',
  'accept-encoding',
  'expect',
  'openai-organization',
  'openai-project',
  'x-request-id',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
]);

/** Response headers that reelay sets itself, or that describe the upstream account. */
const NOT_FORWARDED_DOWNSTREAM = new Set([
  'set-cookie',
  'openai-organization',
  'openai-project',
  'x-request-id',
  'content-length',
  'date',
  'server',
  'alt-svc',
  'strict-transport-security',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
]);

export type HeaderBag = Record<string, string | string[] | undefined>;

const UNSAFE_VALUE = /[\r\n\0]/;

// What almost every message carries, parsed once (only ever read).
const COMMON_CONNECTION = new Map([
  ['keep-alive', new Set(['keep-alive'])],
  ['close', new Set(['close'])],
]);

/** Header names listed in `Connection` (dropped as hop-by-hop), or null when there is none. */
function connectionNamed(headers: HeaderBag): ReadonlySet<string> | null {
  const raw = headers['connection'];
  if (raw === undefined) return null;
  const common = typeof raw === 'string' ? COMMON_CONNECTION.get(raw) : undefined;
  if (common) return common;
  const named = new Set<string>();
  for (const v of Array.isArray(raw) ? raw : [raw]) {
    for (const token of v.split(',')) {
      const t = token.trim().toLowerCase();
      if (t) named.add(t);
    }
  }
  return named;
}

function filter(headers: HeaderBag, drop: Set<string>): Record<string, string> {
  const named = connectionNamed(headers);
  const out: Record<string, string> = {};
  for (const rawName in headers) {
    const rawValue = headers[rawName];
    const name = rawName.toLowerCase();
    if (rawValue === undefined || HOP_BY_HOP.has(name) || drop.has(name) || named?.has(name)) continue;
    const value = Array.isArray(rawValue) ? rawValue.join(', ') : String(rawValue);
    if (UNSAFE_VALUE.test(value)) continue;
    out[name] = value;
  }
  return out;
}

/** Client request headers → upstream request headers, with the upstream credential set. */
export function upstreamRequestHeaders(clientHeaders: HeaderBag, upstreamApiKey: string | undefined): Record<string, string> {
  const out = filter(clientHeaders, NOT_FORWARDED_UPSTREAM);
  out['accept-encoding'] = 'identity';
  if (upstreamApiKey) out['authorization'] = `Bearer ${upstreamApiKey}`;
  return out;
}

/** Upstream response headers → client response headers. Authenticated content is never public. */
export function downstreamResponseHeaders(upstreamHeaders: HeaderBag): Record<string, string> {
  const out = filter(upstreamHeaders, NOT_FORWARDED_DOWNSTREAM);
  const cc = out['cache-control'];
  if (cc !== undefined && /\bpublic\b/i.test(cc)) out['cache-control'] = 'private';
  return out;
}

/** The upstream's request id, if it sent a usable one. */
export function upstreamRequestId(headers: HeaderBag): string | null {
  const v = headers['x-request-id'];
  const id = Array.isArray(v) ? v[0] : v;
  return id && id.length <= 200 && !UNSAFE_VALUE.test(id) ? id : null;
}
