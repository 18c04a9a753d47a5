import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, databaseUnavailable, errorBody } from '../errors.js';
import { DATABASE_RETRY_AFTER_S, isDatabaseUnavailable } from '../db/unavailable.js';
import type { AppEnv } from './context.js';
import type { Logger } from '../logging/logger.js';

/**
 * Renders every error as OpenAI's envelope. A 500 never echoes the internal message. A database
 * that cannot be reached is 503 database_unavailable with retry-after.
 */
export function renderError(c: Context<AppEnv>, err: unknown, logger: Logger): Response {
  let apiErr: ApiError;
  if (err instanceof ApiError) {
    apiErr = err;
  } else if (isDatabaseUnavailable(err)) {
    // Every store call that can fail this way comes before anything is sent upstream or
    // charged (a create holds before it forwards; see src/videos/submit.ts for after).
    const state = c.get('state');
    logger.warn({ request_id: state?.requestId, err: (err as Error)?.message }, 'database unavailable');
    apiErr = databaseUnavailable(DATABASE_RETRY_AFTER_S);
  } else if (err instanceof HTTPException && err.status < 500) {
    apiErr = new ApiError(err.status === 413 ? 'request_too_large' : 'invalid_request', err.status === 413 ? 'Request body is too large.' : 'Malformed request.');
  } else {
    const state = c.get('state');
    logger.error({ request_id: state?.requestId, err: (err as Error)?.message, stack: (err as Error)?.stack }, 'unhandled error');
    apiErr = new ApiError('internal_error', 'The server had an error while processing your request.');
  }
  const state = c.get('state');
  if (state) state.errorCode = apiErr.code;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...apiErr.headers };
  return new Response(errorBody(apiErr), { status: apiErr.status, headers });
}
