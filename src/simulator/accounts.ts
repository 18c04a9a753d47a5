import { randomBytes } from 'node:crypto';
import { startSimulator, type SimulatorHandle } from './index.js';
import type { SimulatorOptions } from './state.js';

/**
 * The simulator as several independent provider accounts (contract §10): each account is its own
 * simulator (own jobs, own controls under /_sim/) on its own port with its own credential, so
 * reelay can be given an UPSTREAMS_FILE over them and shown routing and failover. Account i
 * (1-based) is `sim-i`, its credential is in the environment variable `SIM_ACCT_i_KEY` as far as
 * the UPSTREAMS_FILE is concerned, and it has priority i - 1: the first account takes the jobs,
 * the next ones take them when it answers 429 or 503, refuses connections or is disabled.
 */
export const MAX_ACCOUNTS = 16;

export interface SimulatorAccount {
  /** The upstream id in the UPSTREAMS_FILE: sim-1, sim-2, … */
  id: string;
  /** The credential this account alone accepts. */
  apiKey: string;
  /** The environment variable the UPSTREAMS_FILE names for it: SIM_ACCT_1_KEY, … */
  envVar: string;
  priority: number;
  handle: SimulatorHandle;
}

export interface SimulatorAccounts {
  accounts: SimulatorAccount[];
  /** The UPSTREAMS_FILE content over these accounts (credentials only by variable name). */
  upstreamsFile(): { upstreams: { id: string; base_url: string; api_key_env: string; priority: number }[] };
  /** The environment variables holding the credentials, for reelay's environment. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts `count` accounts. `port` 0 picks a free port for each; another port puts account i on
 * port + i - 1. `apiKey` given: account i accepts `${apiKey}-${i}`; otherwise a random key each.
 */
export async function startSimulatorAccounts(
  count: number,
  opts: Omit<SimulatorOptions, 'apiKey'> & { port?: number; host?: string; apiKey?: string } = {},
): Promise<SimulatorAccounts> {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_ACCOUNTS) throw new Error(`accounts must be an integer from 1 to ${MAX_ACCOUNTS}, got '${count}'`);
  const { port = 0, apiKey, ...rest } = opts;
  const accounts: SimulatorAccount[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const key = apiKey !== undefined ? `${apiKey}-${i}` : `sim-acct${i}-${randomBytes(12).toString('hex')}`;
      const handle = await startSimulator({ ...rest, port: port === 0 ? 0 : port + i - 1, apiKey: key });
      accounts.push({ id: `sim-${i}`, apiKey: key, envVar: `SIM_ACCT_${i}_KEY`, priority: i - 1, handle });
    }
  } catch (err) {
    await Promise.all(accounts.map((a) => a.handle.close()));
    throw err;
  }
  return {
    accounts,
    upstreamsFile: () => ({ upstreams: accounts.map((a) => ({ id: a.id, base_url: a.handle.url, api_key_env: a.envVar, priority: a.priority })) }),
    env: () => Object.fromEntries(accounts.map((a) => [a.envVar, a.apiKey])),
    close: async () => {
      await Promise.all(accounts.map((a) => a.handle.close()));
    },
  };
}
