import { afterAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openMigratedDatabase } from '../../src/db/client.js';

/** The data directory and the SQLite files are created readable by their owner only, whatever the umask. */
vi.setConfig({ testTimeout: 120_000 });
const root = mkdtempSync(join(tmpdir(), 'reelay-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

/** Runs `fn` with the usual permissive umask (022), under which plain creation gives 0644/0755. */
function withUmask<T>(fn: () => T): T {
  const old = process.umask(0o022);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

describe('database files', () => {
  it('creates the data directories 0700 and the database with its -wal and -shm 0600', () => {
    const before = mode(root);
    const path = join(root, 'new', 'data', 'reelay.db');
    const database = withUmask(() => openMigratedDatabase(path));
    try {
      database.sqlite.prepare('select count(*) from api_keys').get();
      expect(mode(join(root, 'new'))).toBe(0o700);
      expect(mode(join(root, 'new', 'data'))).toBe(0o700);
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(mode(f), f).toBe(0o600);
      expect(mode(root), 'a directory that already existed is left alone').toBe(before);
    } finally {
      database.close();
    }
  });

  it('tightens a database file (and -wal) left readable by others', () => {
    const path = join(root, 'old.db');
    withUmask(() => openMigratedDatabase(path)).close();
    writeFileSync(`${path}-wal`, '');
    chmodSync(path, 0o644);
    chmodSync(`${path}-wal`, 0o644);
    const database = openMigratedDatabase(path);
    try {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(mode(f), f).toBe(0o600);
    } finally {
      database.close();
    }
  });
});

describe('npm run demo', () => {
  it('keeps ./data 0700 and demo.db, its -wal/-shm and demo.json 0600', async () => {
    const cwd = mkdtempSync(join(root, 'demo-'));
    const demo = fileURLToPath(new URL('../../src/demo.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'silent' };
    delete env.DATABASE_URL;
    delete env.ADMIN_TOKEN;
    const child = withUmask(() => spawn(process.execPath, ['--import', tsx, demo], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('Press Ctrl-C')) resolve();
      });
      void exited.then(() => reject(new Error(`demo exited early: ${err}`)));
    });
    try {
      expect(mode(join(cwd, 'data'))).toBe(0o700);
      for (const f of ['demo.db', 'demo.db-wal', 'demo.db-shm', 'demo.json']) expect(mode(join(cwd, 'data', f)), f).toBe(0o600);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });
});
