import type { Context } from 'hono';
import type { Store } from '../store/store.js';

/** Wrong admin tokens allowed per client address within the window before it is refused. */
export const MAX_AUTH_FAILURES = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;

/**
 * Wrong admin tokens per client address, shared by the admin API and the dashboard's login so a
 * guesser gains nothing by switching between them. After MAX_AUTH_FAILURES within the window the
 * address is refused (every request from it, so a lucky guess cannot be told apart) until the
 * oldest of those failures leaves the window; other addresses are unaffected. The failures live
 * in the database (auth_failures), so they count on every instance together; old rows are purged
 * in the background (SharedStatePruner).
 */
export class AuthThrottle {
  constructor(
    private readonly store: Pick<Store, 'recordAuthFailure' | 'recentAuthFailures'>,
    private readonly now: () => number,
  ) {}

  /** 0 when `address` may try; else the whole seconds until it may try again. */
  async retryAfterSeconds(address: string): Promise<number> {
    const now = this.now();
    // Newest first: the last one is the oldest of the most recent MAX_AUTH_FAILURES.
    const recent = await this.store.recentAuthFailures(address, now - AUTH_FAILURE_WINDOW_MS, MAX_AUTH_FAILURES);
    if (recent.length < MAX_AUTH_FAILURES) return 0;
    return Math.max(1, Math.ceil((recent[recent.length - 1]! + AUTH_FAILURE_WINDOW_MS - now) / 1000));
  }

  async fail(address: string): Promise<void> {
    await this.store.recordAuthFailure(address, this.now());
  }
}

/** The peer address of the connection (a proxy in front of reelay counts as one client). */
export function clientAddress(c: Context): string {
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown';
}
