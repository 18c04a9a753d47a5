import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Every chunk a download relays arrives in a fresh buffer that Node allocates for the socket
 * read (up to 64 KiB, outside the JavaScript heap), and is garbage as soon as the client's socket
 * has taken it. V8 collects such buffers only when its heap fills or when external memory has grown
 * by about 64 MB since the last full collection, so with many slow readers tens of MB of spent
 * chunks pile up. A young-generation collection (scavenge, about a millisecond here) frees them;
 * this runs one after every RELAYED_BYTES_PER_SCAVENGE bytes relayed. Archived copies served from
 * disk feed it too (their file reads are such buffers as well).
 *
 * Measured against the plain version, as design.md asks of a forced collection (docs/performance.md,
 * "Evening of 2026-12-06"): 200 slow readers grew reelay's RSS by 45 / 44 MB (50 / 200 MB video)
 * with this valve and the flags in src/runtime-flags.ts, against 94 / 89 MB without both, the bare
 * proxy 96 / 101 MB; from the archive, 63 MB with the valve against 100 MB without it.
 */
export const RELAYED_BYTES_PER_SCAVENGE = 4 * 1024 * 1024;

/**
 * V8's gc() as exposed by --expose-gc. Called with no argument it runs a full collection. Node 20's
 * V8 reads any argument as a request for a young-generation collection only (a PerformanceObserver
 * sees a scavenge even for `{ type: 'major' }`); `{ type: 'minor' }` asks for exactly that here
 * and in newer V8s, which read the option.
 */
export type Gc = (options?: { type: 'minor' }) => void;

/** V8's gc(), exposed for this process on first call; null if the runtime refuses. */
export function exposedGc(): Gc | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as Gc;
  try {
    // The V8 flag that exposes gc() is read when a context is created, so a fresh context has it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Gc) : null;
  } catch {
    return null;
  }
}

/**
 * Runs a scavenge each time another `every` bytes have been noted. The gc function is looked up
 * when it is first needed, not at start-up: a process that never relays a download (the CLI, an
 * idle server) never makes the extra context.
 */
export class ScavengeEvery {
  private sinceLast = 0;
  private gc: Gc | null | undefined;
  constructor(
    private readonly findGc: () => Gc | null,
    private readonly every: number,
  ) {}

  get active(): boolean {
    return this.resolved() !== null;
  }

  note(bytes: number): void {
    this.sinceLast += bytes;
    if (this.sinceLast < this.every) return;
    this.sinceLast = 0;
    this.resolved()?.({ type: 'minor' });
  }

  private resolved(): Gc | null {
    if (this.gc === undefined) this.gc = this.findGc();
    return this.gc;
  }
}

/** The process-wide valve that Upstream.relay feeds with every chunk it relays. */
export const relayedGarbage = new ScavengeEvery(exposedGc, RELAYED_BYTES_PER_SCAVENGE);
