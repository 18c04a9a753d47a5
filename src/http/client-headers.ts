import type { Context } from 'hono';
import type { AppEnv } from './context.js';
import type { HeaderBag } from '../relay/headers.js';

/** The client's request headers as Node parsed them (cheaper than rebuilding them from a Request). */
export function clientHeaders(c: Context<AppEnv>): HeaderBag {
  const incoming = c.env?.incoming;
  if (incoming) return incoming.headers;
  return Object.fromEntries(c.req.raw.headers);
}
