import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { UPSTREAM_KEY, ADMIN_TOKEN } from './support.js';

/**
 * reelay as a child process (`node --import tsx src/main.ts`, exactly what `npm start` runs), for
 * crash and shutdown tests: every line it writes is kept so it can be scanned for secrets.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export class ReelayProcess {
  proc: ChildProcess | null = null;
  readonly output: string[] = [];
  starts = 0;

  constructor(
    readonly port: number,
    readonly dbPath: string,
    readonly upstreamUrl: string,
    readonly env: Record<string, string> = {},
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        PORT: String(this.port),
        DATABASE_URL: this.dbPath,
        UPSTREAM_BASE_URL: this.upstreamUrl,
        UPSTREAM_API_KEY: UPSTREAM_KEY,
        ADMIN_TOKEN,
        LOG_LEVEL: 'info',
        // Off unless a test asks for it: otherwise every child would archive into ./data/archive
        // of the checkout, and the archive's downloads would mix with what tests count upstream.
        ARCHIVE_URL: 'off',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.starts++;
    proc.stdout!.on('data', (d: Buffer) => this.output.push(d.toString()));
    proc.stderr!.on('data', (d: Buffer) => this.output.push(d.toString()));
    // A deadline rather than a count of tries: on a loaded machine a cold `tsx` start alone can
    // take several seconds.
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.base}/healthz`);
        if (res.ok) return;
      } catch {
        /* not up yet */
      }
      if (proc.exitCode !== null) throw new Error(`reelay exited: ${this.output.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error(`reelay did not start within ${START_TIMEOUT_MS} ms: ${this.output.join('').slice(-2000)}`);
  }

  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends `signal` and resolves with the exit code/signal (and how long the exit took). */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const proc = this.proc;
    const started = Date.now();
    if (!proc || !this.alive) return Promise.resolve({ code: proc?.exitCode ?? null, signal: proc?.signalCode ?? null, ms: 0 });
    return new Promise((resolve) => {
      proc.once('exit', (code, sig) => resolve({ code, signal: sig, ms: Date.now() - started }));
      proc.kill(signal);
    });
  }

  /** Resolves once a JSON log line with this `msg` has been written; false after `timeoutMs`. */
  async waitForLog(msg: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.logLines().some((l) => l.msg === msg)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /** The JSON log lines written so far. */
  logLines(): Record<string, unknown>[] {
    return this.output
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { unparsed: l };
        }
      });
  }
}
