/**
 * Header filtering in both directions (pure). Towards the upstream only an allow-list passes: the
 * client's content type, accept, user agent, range headers for content downloads, the client's
 * request id for OpenAI (`x-client-request-id`) and the OpenAI SDK's `x-stainless-*` and `openai-*`
 * headers; reelay sets the credential, and the HTTP client sets the length of the body reelay
 * actually sends. Everything else (a client's `Idempotency-Key`,
 * `api-key`, method overrides, forwarding and client-IP headers, cookies) stays behind. Towards the
 * client, hop-by-hop headers, every header named in `Connection` and the upstream's account headers
 * are dropped. Values with CR, LF or NUL are never forwarded.
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

/**
 * Client request headers that reach the upstream, besides the SDK's (see isForwardedUpstream). `range` and
 * `if-range` serve content downloads (a partial download resumes against the same file).
 * `x-client-request-id` is OpenAI's own tracing header (the client's id for the request, also kept
 * in reelay's request log). `content-length` is not taken from the client: reelay may re-encode a
 * body, and the HTTP client sets the length of the bytes it sends.
 */
const FORWARDED_UPSTREAM = new Set(['accept', 'content-type', 'user-agent', 'range', 'if-range', 'x-client-request-id']);

/**
 * `openai-*` headers that would pick the organization or project the upstream bills: they belong to
 * reelay's credential, not to the client's.
 */
const ACCOUNT_HEADERS = new Set(['openai-organization', 'openai-project']);

/**
 * Whether a (lower-case) client request header may reach the upstream: the names above, and the
 * OpenAI SDK's own headers (`x-stainless-lang`, `x-stainless-retry-count`, `openai-beta`, …).
 */
export function isForwardedUpstream(name: string): boolean {
  if (name.startsWith('x-stainless-')) return true;
  if (name.startsWith('openai-')) return !ACCOUNT_HEADERS.has(name);
  return FORWARDED_UPSTREAM.has(name);
}

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

/**
 * Client request headers → upstream request headers: the allow-listed ones, with the upstream
 * credential set and `accept-encoding: identity` (bodies are relayed and measured as they are).
 */
export function upstreamRequestHeaders(clientHeaders: HeaderBag, upstreamApiKey: string | undefined): Record<string, string> {
  const named = connectionNamed(clientHeaders);
  const out: Record<string, string> = {};
  for (const rawName in clientHeaders) {
    const rawValue = clientHeaders[rawName];
    if (rawValue === undefined) continue;
    const name = rawName.toLowerCase();
    if (!isForwardedUpstream(name) || named?.has(name)) continue;
    const value = Array.isArray(rawValue) ? rawValue.join(', ') : String(rawValue);
    if (UNSAFE_VALUE.test(value)) continue;
    out[name] = value;
  }
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
