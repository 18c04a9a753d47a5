import type { Context } from 'hono';
import type { AppEnv } from './context.js';
import type { HeaderBag } from '../relay/headers.js';

/** The client's request headers as Node parsed them (cheaper than rebuilding them from a Request). */
export function clientHeaders(c: Context<AppEnv>): HeaderBag {
  const incoming = c.env?.incoming;
  if (incoming) return incoming.headers;
  return Object.fromEntries(c.req.raw.headers);
}

/**
 * One request header, as Node parsed it. `c.req.header()` would first build a fetch Headers
 * object from all of the request's raw headers (the Node adapter does so lazily, on first use).
 * Repeated headers read as Node joins them (`, `), except those HTTP allows only once, such as
 * `authorization` and `content-length`, of which Node keeps the first.
 */
export function requestHeader(c: Context<AppEnv>, name: string): string | undefined {
  const incoming = c.env?.incoming;
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
