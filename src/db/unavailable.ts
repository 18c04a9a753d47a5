/**
 * "The database cannot be reached": the failures after which a request is answered 503
 * database_unavailable (nothing forwarded, nothing charged) rather than 500. Connection-level
 * failures only, whatever engine raised them; a query the database refused (a constraint, a bad
 * value) is not one, and neither is SQLite's SQLITE_BUSY after its busy timeout (the file is
 * there; it is a contention problem, answered 500 as before).
 */

/** Socket-level errors: the server is down, unreachable, or dropped the connection. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs of a server that is going away or will not take the connection:
 * class 08 (connection exception) is matched by prefix; these are the others.
 */
const PG_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '53300', // too_many_connections
]);

/** node-postgres' own messages for a connection that could not be had or was lost (they carry no code). */
const PG_MESSAGES = [
  'timeout exceeded when trying to connect', // pool: connectionTimeoutMillis passed
  'connection terminated unexpectedly',
  'connection terminated due to connection timeout',
  'query read timeout', // query_timeout: no answer from the server in time
  'connection terminated',
  'client has encountered a connection error and is not queryable',
  'the server does not support ssl connections',
];

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code !== undefined) {
    if (code.startsWith('SQLITE_')) return false;
    if (SOCKET_CODES.has(code) || PG_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (typeof e.message === 'string') {
    const m = e.message.toLowerCase();
    if (PG_MESSAGES.some((p) => m.startsWith(p))) return true;
  }
  // A connection refused on every address of a name (AggregateError), or a wrapped error
  // (drizzle's "Failed query" keeps the driver's error as its cause).
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return e.cause !== undefined && isDatabaseUnavailable(e.cause, depth + 1);
}

/** Seconds a client is asked to wait before trying again. */
export const DATABASE_RETRY_AFTER_S = 5;
