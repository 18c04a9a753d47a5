/** OpenAI-style error envelope used by every simulator error response. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null,
    readonly code: string | null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'SimError';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null, code: string | null = 'invalid_value'): SimError =>
  new SimError(400, 'invalid_request_error', message, param, code);

export const missingParam = (param: string): SimError =>
  invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');

export const notFound = (message: string, param: string | null = null, code = 'not_found'): SimError =>
  new SimError(404, 'invalid_request_error', message, param, code);

export const videoNotFound = (id: string): SimError => notFound(`Video with id '${id}' not found.`, 'video_id');

/** The rejections `failNextCreate` and the `[reject]` prompt marker produce. */
export type CreateFailureKind = 'content_policy' | 'rate_limit' | 'server_error' | 'unavailable';

export function createFailure(kind: CreateFailureKind): SimError {
  switch (kind) {
    case 'content_policy':
      return new SimError(
        400,
        'invalid_request_error',
        'Your request was blocked by our moderation system.',
        null,
        'moderation_blocked',
      );
    case 'rate_limit':
      return new SimError(
        429,
        'requests',
        'Rate limit reached for video generation requests. Please try again in 1s.',
        null,
        'rate_limit_exceeded',
        { 'retry-after': '1' },
      );
    case 'server_error':
      return new SimError(
        500,
        'server_error',
        'The server had an error while processing your request. Sorry about that!',
        null,
        'server_error',
      );
    case 'unavailable':
      return new SimError(503, 'server_error', 'The engine is currently overloaded, please try again later.', null, 'service_unavailable');
  }
}

export const CREATE_FAILURE_KINDS: readonly CreateFailureKind[] = ['content_policy', 'rate_limit', 'server_error', 'unavailable'];
