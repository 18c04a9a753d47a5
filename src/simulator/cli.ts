/**
 * `reelay simulator`: runs the upstream simulator alone.
 *
 *   --port <n>            listen port (default 8090; 0 picks a free one)
 *   --host <addr>         listen address (default 127.0.0.1)
 *   --duration-ms <n>     queued -> completed time per job (default 3000)
 *   --queued-ms <n>       time a job stays queued (default 20% of the duration)
 *   --api-key <key>       require `Authorization: Bearer <key>` on /v1
 *   --content-bytes <n>   serve a synthetic video of exactly n bytes instead of the sample MP4
 *   --latency-ms <n>      delay every /v1 response by n ms
 *   --accounts <n>        run n independent accounts (1-16), each its own simulator on its own
 *                         port (--port, --port+1, …; all free ones with --port 0) with its own
 *                         credential (--api-key KEY gives account i KEY-i; otherwise random)
 *   --upstreams-file <p>  with --accounts: write reelay's UPSTREAMS_FILE over the accounts to p
 *                         (credentials only by variable name, SIM_ACCT_1_KEY, …)
 *
 * Also runnable directly: `tsx src/simulator/cli.ts --port 8090`.
 */
import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
import { type SimulatorHandle, startSimulator } from './index.js';
import { startSimulatorAccounts } from './accounts.js';

export interface SimulatorCliOptions {
  port: number;
  host: string;
  jobDurationMs?: number;
  queuedMs?: number;
  apiKey?: string;
  contentBytes?: number;
  latencyMs?: number;
  accounts?: number;
  upstreamsFile?: string;
}

export const SIMULATOR_USAGE = `Usage: reelay simulator [--port 8090] [--host 127.0.0.1] [--duration-ms 3000]
                        [--queued-ms N] [--api-key KEY] [--content-bytes N] [--latency-ms N]
                        [--accounts N [--upstreams-file PATH]]`;

const NUMERIC: Record<string, keyof SimulatorCliOptions> = {
  '--port': 'port',
  '--duration-ms': 'jobDurationMs',
  '--queued-ms': 'queuedMs',
  '--content-bytes': 'contentBytes',
  '--latency-ms': 'latencyMs',
  '--accounts': 'accounts',
};

/** Parses the simulator's command-line flags (`--flag value` or `--flag=value`). */
export function parseSimulatorArgs(argv: string[]): SimulatorCliOptions {
  const opts: SimulatorCliOptions = { port: 8090, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const takeValue = (): string => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value\n${SIMULATOR_USAGE}`);
      return next;
    };
    const numericKey = NUMERIC[flag];
    if (numericKey) {
      const raw = takeValue();
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0) {
        throw new Error(`${flag} must be a non-negative integer, got '${raw}'`);
      }
      if (flag === '--port' && n > 65535) throw new Error(`--port must be at most 65535, got '${raw}'`);
      (opts as unknown as Record<string, number>)[numericKey] = n;
    } else if (flag === '--host') {
      opts.host = takeValue();
    } else if (flag === '--api-key') {
      opts.apiKey = takeValue();
    } else if (flag === '--upstreams-file') {
      opts.upstreamsFile = takeValue();
    } else {
      throw new Error(`Unknown option '${arg}'\n${SIMULATOR_USAGE}`);
    }
  }
  if (opts.accounts !== undefined && (opts.accounts < 1 || opts.accounts > 16)) throw new Error(`--accounts must be from 1 to 16, got '${opts.accounts}'`);
  if (opts.upstreamsFile !== undefined && opts.accounts === undefined) throw new Error(`--upstreams-file needs --accounts\n${SIMULATOR_USAGE}`);
  return opts;
}

/** Starts the accounts, prints each one and (with --upstreams-file) writes the file; returns its close. */
async function startAccounts(opts: SimulatorCliOptions): Promise<() => Promise<void>> {
  const { latencyMs, accounts: count, upstreamsFile, ...simOpts } = opts;
  const running = await startSimulatorAccounts(count!, simOpts);
  for (const a of running.accounts) {
    if (latencyMs) a.handle.sim.setLatencyMs(latencyMs);
    console.log(`account ${a.id} listening on ${a.handle.url}  (API key ${a.apiKey}, as ${a.envVar}; controls under ${a.handle.url.replace(/\/v1$/, '')}/_sim/)`);
  }
  if (upstreamsFile) {
    writeFileSync(upstreamsFile, `${JSON.stringify(running.upstreamsFile(), null, 2)}\n`);
    const env = Object.entries(running.env()).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`UPSTREAMS_FILE written to ${upstreamsFile}; start reelay with:\n  UPSTREAMS_FILE=${upstreamsFile} ${env} npm start`);
  }
  return () => running.close();
}

/**
 * Starts the simulator, prints its base URL, and resolves once it has stopped after SIGINT or
 * SIGTERM.
 */
export async function runSimulatorCli(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SIMULATOR_USAGE);
    return;
  }
  const parsed = parseSimulatorArgs(argv);
  let close: () => Promise<void>;
  if (parsed.accounts !== undefined) close = await startAccounts(parsed);
  else {
    const { latencyMs, accounts: _a, upstreamsFile: _f, ...opts } = parsed;
    const handle: SimulatorHandle = await startSimulator(opts);
    if (latencyMs) handle.sim.setLatencyMs(latencyMs);
    const details = [
      `job duration ${opts.jobDurationMs ?? 3000} ms`,
      opts.apiKey ? 'API key required' : 'no API key required',
      opts.contentBytes !== undefined ? `synthetic content of ${opts.contentBytes} bytes` : 'sample MP4 content',
    ];
    console.log(`reelay upstream simulator listening on ${handle.url}`);
    console.log(`  (${details.join(', ')}; controls under ${handle.url.replace(/\/v1$/, '')}/_sim/)`);
    close = () => handle.close();
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.log(`${signal} received, stopping simulator`);
      close().then(resolve, (err: unknown) => {
        console.error('error while closing the simulator:', err);
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSimulatorCli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
