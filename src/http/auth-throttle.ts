import type { Context } from 'hono';

/** Wrong admin tokens allowed per client address within the window before it is refused. */
export const MAX_AUTH_FAILURES = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

/**
 * Wrong admin tokens per client address, shared by the admin API and the dashboard's login so a
 * guesser gains nothing by switching between them. After MAX_AUTH_FAILURES within the window the
 * address is refused (every request from it, so a lucky guess cannot be told apart) until the
 * oldest failure leaves the window; other addresses are unaffected. In memory, per process.
 */
export class AuthThrottle {
  /** The most recent failure times per address, oldest first, at most MAX_AUTH_FAILURES of them. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** 0 when `address` may try; else the whole seconds until it may try again. */
  retryAfterSeconds(address: string): number {
    const recent = this.recent(address);
    if (recent.length < MAX_AUTH_FAILURES) return 0;
    return Math.max(1, Math.ceil((recent[0]! + AUTH_FAILURE_WINDOW_MS - this.now()) / 1000));
  }

  fail(address: string): void {
    if (!this.failures.has(address) && this.failures.size >= MAX_ADDRESSES) this.sweep();
    // Still full after the sweep (a flood from many addresses): forget the oldest-seen address.
    if (!this.failures.has(address) && this.failures.size >= MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    const recent = [...this.recent(address), this.now()];
    this.failures.set(address, recent.slice(-MAX_AUTH_FAILURES));
  }

  private recent(address: string): number[] {
    const since = this.now() - AUTH_FAILURE_WINDOW_MS;
    const recent = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (recent.length === 0) this.failures.delete(address);
    else this.failures.set(address, recent);
    return recent;
  }

  private sweep(): void {
    for (const address of [...this.failures.keys()]) this.recent(address);
  }
}

/** The peer address of the connection (a proxy in front of reelay counts as one client). */
export function clientAddress(c: Context): string {
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown';
}
