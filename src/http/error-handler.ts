import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, errorBody } from '../errors.js';
import type { AppEnv } from './context.js';
import type { Logger } from '../logging/logger.js';

/** Renders every error as OpenAI's envelope. A 500 never echoes the internal message. */
export function renderError(c: Context<AppEnv>, err: unknown, logger: Logger): Response {
  let apiErr: ApiError;
  if (err instanceof ApiError) {
    apiErr = err;
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
