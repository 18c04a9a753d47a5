/**
 * The closed list of errors reelay raises itself, with one code → status map. Domain code throws
 * ApiError; the HTTP error handler renders OpenAI's envelope. Messages are written for clients:
 * internal details never go into them.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  model_not_priced: { status: 400, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  unauthorized: { status: 401, type: 'invalid_request_error' },
  model_not_allowed: { status: 403, type: 'invalid_request_error' },
  forbidden: { status: 403, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  request_timeout: { status: 408, type: 'invalid_request_error' },
  idempotency_key_reused: { status: 409, type: 'invalid_request_error' },
  idempotency_key_in_use: { status: 409, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  range_not_satisfiable: { status: 416, type: 'invalid_request_error' },
  headers_too_large: { status: 431, type: 'invalid_request_error' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  internal_error: { status: 500, type: 'server_error' },
  upstream_error: { status: 502, type: 'server_error' },
  upstream_unavailable: { status: 503, type: 'server_error' },
  upstream_timeout: { status: 504, type: 'server_error' },
  shutting_down: { status: 503, type: 'server_error' },
  server_busy: { status: 503, type: 'server_error' },
  database_unavailable: { status: 503, type: 'server_error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERROR_CODES[code].status;
    this.type = ERROR_CODES[code].type;
  }
}

export function errorBody(err: ApiError): string {
  return JSON.stringify({ error: { message: err.message, type: err.type, param: err.param, code: err.code } });
}

/** The database cannot be reached: nothing was forwarded or charged; try again shortly. */
export const databaseUnavailable = (retryAfterS: number) =>
  new ApiError('database_unavailable', 'The database cannot be reached; nothing was forwarded or charged. Try again shortly.', null, {
    'retry-after': String(retryAfterS),
  });

export const invalid = (message: string, param: string | null = null) => new ApiError('invalid_request', message, param);
export const notFound = (what = 'video') => new ApiError('not_found', `No ${what} found with that id.`, null);
