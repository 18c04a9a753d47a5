import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, openMigratedDatabase } from '../../src/db/client.js';

describe('SQLite connections', () => {
  it('run with WAL, synchronous=FULL, foreign keys and a busy timeout — also after reopening', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'reelay-pragmas-')), 'r.db');
    const first = openMigratedDatabase(path);
    first.close();
    // A plain reopen of a WAL database would run at NORMAL (1); ours must be FULL (2).
    const plain = new Database(path);
    expect(plain.pragma('synchronous', { simple: true })).toBe(1);
    plain.close();
    for (let i = 0; i < 3; i++) {
      const db = openDatabase(path);
      expect(db.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.sqlite.pragma('synchronous', { simple: true })).toBe(2);
      expect(db.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
      db.close();
    }
  });

  it('refuses an overdraft and a second settlement at the database level', () => {
    const db = openMigratedDatabase(':memory:');
    const s = db.sqlite;
    s.prepare("insert into api_keys (id, name, prefix, hash, created_at, balance_micros, held_micros) values ('k', 'n', 'p', 'h', 0, 100, 0)").run();
    expect(() => s.prepare("update api_keys set held_micros = 101 where id = 'k'").run()).toThrow(/CHECK/);
    s.prepare("insert into jobs (id, key_id, kind, model, size, requested_seconds, status, rate_micros, held_micros, request_id, created_at, updated_at) values ('j', 'k', 'create', 'sora-2', '720x1280', 4, 'completed', 1, 10, 'r', 0, 0)").run();
    const entry = s.prepare("insert into ledger (id, kind, amount_micros, key_id, job_id, terminal, actor, created_at) values (?, 'capture', 10, 'k', 'j', 1, 'x', 0)");
    entry.run('led_1');
    expect(() => entry.run('led_2')).toThrow(/UNIQUE/);
    db.close();
  });
});
