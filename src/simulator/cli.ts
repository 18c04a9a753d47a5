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
 *
 * Also runnable directly: `tsx src/simulator/cli.ts --port 8090`.
 */
import { pathToFileURL } from 'node:url';
import { type SimulatorHandle, startSimulator } from './index.js';

export interface SimulatorCliOptions {
  port: number;
  host: string;
  jobDurationMs?: number;
  queuedMs?: number;
  apiKey?: string;
  contentBytes?: number;
  latencyMs?: number;
}

export const SIMULATOR_USAGE = `Usage: reelay simulator [--port 8090] [--host 127.0.0.1] [--duration-ms 3000]
                        [--queued-ms N] [--api-key KEY] [--content-bytes N] [--latency-ms N]`;

const NUMERIC: Record<string, keyof SimulatorCliOptions> = {
  '--port': 'port',
  '--duration-ms': 'jobDurationMs',
  '--queued-ms': 'queuedMs',
  '--content-bytes': 'contentBytes',
  '--latency-ms': 'latencyMs',
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
    } else {
      throw new Error(`Unknown option '${arg}'\n${SIMULATOR_USAGE}`);
    }
  }
  return opts;
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
  const { latencyMs, ...opts } = parseSimulatorArgs(argv);
  const handle: SimulatorHandle = await startSimulator(opts);
  if (latencyMs) handle.sim.setLatencyMs(latencyMs);
  const details = [
    `job duration ${opts.jobDurationMs ?? 3000} ms`,
    opts.apiKey ? 'API key required' : 'no API key required',
    opts.contentBytes !== undefined ? `synthetic content of ${opts.contentBytes} bytes` : 'sample MP4 content',
  ];
  console.log(`reelay upstream simulator listening on ${handle.url}`);
  console.log(`  (${details.join(', ')}; controls under ${handle.url.replace(/\/v1$/, '')}/_sim/)`);

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.log(`${signal} received, stopping simulator`);
      handle.close().then(resolve, (err: unknown) => {
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
