import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Store } from './store/store.js';
import type { Logger } from './logging/logger.js';

/**
 * This process as its peers see it: an instance row with a heartbeat (design.md, "No process may
 * assume it is alone"). Work a process leaves half-done (a create in flight, an Idempotency-Key
 * claimed, a reconciler lease) is taken over by others only once its heartbeat is older than the
 * instance timeout (INSTANCE_TIMEOUT_MS, 30 s by default) or it stopped cleanly.
 */
export interface InstanceIdentity {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: number;
}

/** `INSTANCE_ID` when set, else host name, process id and a random suffix (unique across restarts). */
export function instanceIdentity(configured: string | undefined, version: string, now: number): InstanceIdentity {
  const host = hostname();
  const id = configured ?? `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return { id, host, pid: process.pid, version, startedAt: now };
}

/** Beats often enough that two missed beats still leave the instance alive. */
export const heartbeatIntervalMs = (timeoutMs: number): number => Math.max(100, Math.floor(timeoutMs / 3));

export class InstanceHeartbeat {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;

  constructor(
    private readonly o: { store: Store; identity: InstanceIdentity; timeoutMs: number; now: () => number; logger: Logger },
  ) {}

  /** Writes the first heartbeat (so the instance is alive before it serves), then beats on a timer. */
  async start(): Promise<void> {
    // A process that had this id before (a stable INSTANCE_ID) is gone: its unfinished work goes
    // to the dead-instance takeover, never to this process, which knows nothing of it.
    const disowned = await this.o.store.disownEarlierWork(this.o.identity.id, this.o.identity.startedAt);
    if (disowned.jobs + disowned.claims + disowned.leases > 0) {
      this.o.logger.warn(
        { pending_creates: disowned.jobs, idempotency_claims: disowned.claims, leases: disowned.leases },
        'an earlier process with this INSTANCE_ID left work unfinished; handed over as a dead instance\'s',
      );
    }
    await this.beat();
    const loop = () => {
      this.beating = this.beat()
        .catch((err) => this.o.logger.warn({ err: (err as Error).message }, 'instance heartbeat failed'))
        .finally(() => {
          this.beating = null;
          if (this.timer) this.timer = setTimeout(loop, heartbeatIntervalMs(this.o.timeoutMs));
        });
    };
    this.timer = setTimeout(loop, heartbeatIntervalMs(this.o.timeoutMs));
    this.timer.unref();
  }

  /** Stops beating and marks the instance stopped, so its peers need not wait for the timeout. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.beating) await this.beating;
    await this.o.store.markInstanceStopped(this.o.identity.id, this.o.now()).catch((err) => {
      this.o.logger.warn({ err: (err as Error).message }, 'could not mark the instance stopped; peers take over after the instance timeout');
    });
  }

  private beat(): Promise<void> {
    return this.o.store.heartbeat(this.o.identity, this.o.now());
  }
}
