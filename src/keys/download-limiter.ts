/**
 * Counts each key's content downloads in progress, so one tenant's stalled downloads cannot hold
 * every upstream download connection (contract §2, "One tenant cannot starve the others").
 * In-process: each instance counts the downloads it relays itself.
 */
export class DownloadLimiter {
  private readonly active = new Map<string, number>();

  /** Takes a slot for `keyId`, or returns null when it already has `limit` downloads running. */
  acquire(keyId: string, limit: number): (() => void) | null {
    const n = this.active.get(keyId) ?? 0;
    if (n >= limit) return null;
    this.active.set(keyId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(keyId) ?? 1) - 1;
      if (left <= 0) this.active.delete(keyId);
      else this.active.set(keyId, left);
    };
  }

  /** Downloads in progress for a key (for tests and metrics). */
  count(keyId: string): number {
    return this.active.get(keyId) ?? 0;
  }
}
