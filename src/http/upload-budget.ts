import { ApiError } from '../errors.js';

/**
 * A process-wide bound on request-body bytes buffered in memory at once. Bodies are read whole
 * (they are validated, hashed and forwarded as one buffer), so without a bound a few dozen
 * concurrent large uploads could take the process out of memory. A request reserves its declared
 * content-length before its body is read (a chunked body reserves each chunk as it arrives) and
 * gives the reservation back when it is done; one that does not fit is refused with 503
 * `server_busy`, which clients retry after `retry-after`.
 */
export class UploadBudget {
  private used = 0;
  constructor(readonly limitBytes: number) {}

  /** Bytes reserved right now. */
  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes`, or returns false (and reserves nothing) when they do not fit. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

export function serverBusy(): ApiError {
  return new ApiError('server_busy', 'The server is receiving too many uploads right now; retry shortly.', null, { 'retry-after': '2' });
}
