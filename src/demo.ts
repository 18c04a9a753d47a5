import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, ConfigError, describeDatabase } from './config.js';
import { defaultUpstream } from './relay/upstreams-file.js';
import { startReelay, type RunningReelay } from './server.js';
import { startSimulator } from './simulator/index.js';
import { startSimulatorAccounts, MAX_ACCOUNTS } from './simulator/accounts.js';
import { parseUsd, formatUsd } from './money.js';
import { ensureDemoKey } from './demo/key.js';
import { ensurePrivateDir, ensurePrivateFile } from './private-files.js';
import { demoBanner } from './demo/banner.js';

/**
 * `npm run demo`: reelay on http://127.0.0.1:8080 (`PORT`, `HOST` to change) with SQLite at
 * ./data/demo.db and the built-in simulator as its upstream. The demo key and admin token are kept
 * in ./data/demo.json so a second run reuses them; `DEMO_DATA_DIR` moves both files elsewhere.
 *
 * `npm run demo -- --accounts 2`: the simulator as two independent provider accounts (own port,
 * own credential each), named by an UPSTREAMS_FILE written to ./data/demo-upstreams.json; sim-1
 * (priority 0) takes the jobs, sim-2 (priority 1) takes them when sim-1 answers 503 or 429.
 */
const DEMO_CREDIT = parseUsd('25.00');

interface DemoState {
  key: string;
  adminToken: string;
}

function readState(path: string): DemoState | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DemoState;
  } catch {
    return null;
  }
}

/** Start-up failures an operator can fix, as one line each (no stack trace). */
function startFailure(err: unknown, port: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return `port ${port} is already in use (another reelay demo?); pick another port: PORT=${port === 8080 ? 8081 : port + 1} npm run demo`;
  }
  if (code === 'EACCES') return `not allowed to listen on port ${port}; pick another port: PORT=8081 npm run demo`;
  return `could not start: ${(err as Error).message}`;
}

function fail(message: string, exitCode: number): never {
  process.stderr.write(`reelay demo: ${message}\n`);
  process.exit(exitCode);
}

/** `--accounts N` (or `--accounts=N`) on the command line; 1 without it. */
function accountsArg(argv: string[]): number {
  const i = argv.findIndex((a) => a === '--accounts' || a.startsWith('--accounts='));
  if (i === -1) return 1;
  const raw = argv[i]!.includes('=') ? argv[i]!.slice('--accounts='.length) : argv[i + 1];
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ACCOUNTS) fail(`--accounts must be an integer from 1 to ${MAX_ACCOUNTS}, got '${raw ?? ''}'`, 2);
  return n;
}

async function main(): Promise<void> {
  const accounts = accountsArg(process.argv.slice(2));
  const dataDir = process.env.DEMO_DATA_DIR || './data';
  const statePath = join(dataDir, 'demo.json');
  ensurePrivateDir(dataDir);
  const saved = readState(statePath);
  const adminToken = process.env.ADMIN_TOKEN || saved?.adminToken || `admin-${randomBytes(18).toString('base64url')}`;
  const upstreamKey = `sim-${randomBytes(12).toString('hex')}`;

  // Several accounts: started first, so the UPSTREAMS_FILE can name their URLs.
  const several = accounts > 1 ? await startSimulatorAccounts(accounts, { port: 0, jobDurationMs: 8000 }) : null;
  const upstreamsPath = join(dataDir, 'demo-upstreams.json');
  if (several) writeFileSync(upstreamsPath, `${JSON.stringify(several.upstreamsFile(), null, 2)}\n`);

  let config;
  try {
    config = loadConfig({
      ...(several ? { UPSTREAMS_FILE: upstreamsPath, ...several.env() } : {}),
      PORT: process.env.PORT ?? '8080',
      HOST: process.env.HOST ?? '127.0.0.1',
      DATABASE_URL: process.env.DATABASE_URL || join(dataDir, 'demo.db'),
      UPSTREAM_BASE_URL: 'http://127.0.0.1:1/v1', // replaced by the simulator's URL below
      UPSTREAM_API_KEY: upstreamKey,
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      RECONCILER_INTERVAL_MS: '1000',
      RECONCILER_MIN_POLL_MS: '1000',
    });
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : String(err), 2);
  }
  let closeSimulators: () => Promise<void>;
  if (several) closeSimulators = () => several.close();
  else {
    const simulator = await startSimulator({ port: 0, apiKey: upstreamKey, jobDurationMs: 8000 });
    const simulatorUrl = simulator.url.replace(/\/+$/, '');
    config = { ...config, upstreamBaseUrl: simulatorUrl, upstreams: [defaultUpstream(simulatorUrl, upstreamKey)] };
    closeSimulators = () => simulator.close();
  }

  let reelay: RunningReelay;
  try {
    reelay = await startReelay(config);
  } catch (err) {
    fail(startFailure(err, config.port), err instanceof ConfigError ? 2 : 1);
  }

  const { store } = reelay.deps;
  const demo = await ensureDemoKey(store, saved?.key, DEMO_CREDIT, Date.now());
  // It holds the demo key and the admin token: owner-only, even when an older run left it 0644.
  ensurePrivateFile(statePath);
  writeFileSync(statePath, JSON.stringify({ key: demo.secret, adminToken } satisfies DemoState, null, 2), { mode: 0o600 });

  // Ctrl-C works from the moment the banner says so.
  const stop = async () => {
    process.stdout.write('\nstopping…\n');
    await reelay.close(3000);
    await closeSimulators();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  // A wildcard listen address is reachable on loopback; print that, so the URLs can be pasted.
  const url = reelay.url.replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//127.0.0.1');
  process.stdout.write(
    demoBanner({
      url,
      databasePath: describeDatabase(config.database),
      secret: demo.secret,
      availableUsd: formatUsd(demo.key.balanceMicros - demo.key.heldMicros),
      toppedUpUsd: !demo.created && demo.creditedMicros > 0 ? formatUsd(demo.creditedMicros) : null,
      adminToken,
    }),
  );
  if (several) process.stdout.write(accountsBanner(several, upstreamsPath, url, adminToken));

}

/** The accounts, and how to watch a failover from sim-1 to sim-2. */
function accountsBanner(several: Awaited<ReturnType<typeof startSimulatorAccounts>>, file: string, url: string, adminToken: string): string {
  const first = several.accounts[0]!.handle.url.replace(/\/v1$/, '');
  return `
Several upstreams (UPSTREAMS_FILE ${file}):
${several.accounts.map((a) => `  ${a.id}  ${a.handle.url}  priority ${a.priority}  (its own credential, in ${a.envVar})`).join('\n')}

Failover: make sim-1 answer 503 to its next 5 creates, create a video as above, and see it on sim-2:

  curl -s -X POST ${first}/_sim/fail-next-create -H "Content-Type: application/json" -d '{"kind":"unavailable","count":5}'
  curl -s ${url}/admin/upstreams -H "Authorization: Bearer ${adminToken}"
  (or the dashboard's Upstreams page, where an account can also be disabled)
`;
}

void main();
