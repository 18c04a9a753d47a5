import { describe, expect, it } from 'vitest';
import { loadConfig, parseDatabaseUrl, redactDatabaseUrl, describeDatabase, ConfigError } from '../../src/config.js';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      database: { engine: 'sqlite', path: './data/reelay.db' },
      upstreamBaseUrl: 'https://api.openai.com/v1',
      adminToken: undefined,
      metricsToken: undefined,
      logLevel: 'info',
      maxMultipartBytes: 64 * 1024 * 1024,
      maxJobAgeMs: 24 * 3600_000,
      requestLogRetentionDays: 30,
    });
  });

  it('reads REQUEST_LOG_RETENTION_DAYS as a positive whole number of days', () => {
    expect(loadConfig({ REQUEST_LOG_RETENTION_DAYS: '7' }).requestLogRetentionDays).toBe(7);
    expect(loadConfig({ REQUEST_LOG_RETENTION_DAYS: '' }).requestLogRetentionDays).toBe(30);
    for (const bad of ['0', '-3', '1.5', 'forever']) {
      expect(() => loadConfig({ REQUEST_LOG_RETENTION_DAYS: bad }), bad).toThrow(/REQUEST_LOG_RETENTION_DAYS must be/);
    }
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ UPSTREAM_BASE_URL: 'ftp://x/v1' }, 'UPSTREAM_BASE_URL'],
    [{ UPSTREAM_BASE_URL: 'https://provider.example/api' }, 'UPSTREAM_BASE_URL must end in /v1'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 characters'],
    [{ METRICS_TOKEN: 'a metrics token with spaces' }, 'METRICS_TOKEN must not contain spaces'],
    [{ MAX_JOB_AGE_HOURS: '-1' }, 'MAX_JOB_AGE_HOURS'],
  ])('stops on %j with a message naming the variable', (env, fragment) => {
    expect(() => loadConfig(env)).toThrow(fragment);
  });

  it('reads LOW_BALANCE_USD as a non-negative USD amount in micro-USD (default 5.00)', () => {
    expect(loadConfig({}).lowBalanceMicros).toBe(5_000_000);
    expect(loadConfig({ LOW_BALANCE_USD: '12.5' }).lowBalanceMicros).toBe(12_500_000);
    expect(loadConfig({ LOW_BALANCE_USD: '0' }).lowBalanceMicros).toBe(0);
    for (const bad of ['-1', 'abc', '1.0000001', '5$']) {
      expect(() => loadConfig({ LOW_BALANCE_USD: bad }), bad).toThrow(/LOW_BALANCE_USD must be a non-negative USD amount/);
    }
  });

  it('reads METRICS_TOKEN when set', () => {
    expect(loadConfig({ METRICS_TOKEN: 'metrics-token-0123456789' }).metricsToken).toBe('metrics-token-0123456789');
  });

  it('reads SQLite paths and file: URLs', () => {
    expect(parseDatabaseUrl('file:./x.db')).toEqual({ engine: 'sqlite', path: './x.db' });
    expect(parseDatabaseUrl('file:///var/lib/reelay.db')).toEqual({ engine: 'sqlite', path: '/var/lib/reelay.db' });
    expect(parseDatabaseUrl('file:///var/lib/my%20reelay.db')).toEqual({ engine: 'sqlite', path: '/var/lib/my reelay.db' });
    expect(parseDatabaseUrl('./data/reelay.db')).toEqual({ engine: 'sqlite', path: './data/reelay.db' });
    expect(parseDatabaseUrl('/abs/reelay.db')).toEqual({ engine: 'sqlite', path: '/abs/reelay.db' });
    expect(parseDatabaseUrl(':memory:')).toEqual({ engine: 'sqlite', path: ':memory:' });
    expect(loadConfig({ DATABASE_URL: 'file:./y.db' }).database).toEqual({ engine: 'sqlite', path: './y.db' });
    expect(loadConfig({ UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1/' }).upstreamBaseUrl).toBe('http://127.0.0.1:9/v1');
  });

  it('reads postgres:// and postgresql:// URLs as PostgreSQL, with DATABASE_POOL_SIZE (default 10)', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://reelay:s3cret@db.internal:5432/reelay' }).database).toEqual({
      engine: 'postgres',
      url: 'postgres://reelay:s3cret@db.internal:5432/reelay',
      poolSize: 10,
    });
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/reelay?sslmode=require', DATABASE_POOL_SIZE: '25' }).database).toEqual({
      engine: 'postgres',
      url: 'postgresql://db/reelay?sslmode=require',
      poolSize: 25,
    });
    expect(loadConfig({ DATABASE_URL: 'POSTGRES://db/reelay' }).database.engine).toBe('postgres');
    // The pool size is read (and checked) on SQLite too, where it is unused.
    expect(loadConfig({ DATABASE_POOL_SIZE: '3' }).database).toEqual({ engine: 'sqlite', path: './data/reelay.db' });
  });

  it.each([
    [{ DATABASE_URL: 'postgres://db' }, /DATABASE_URL: .*names no database/],
    [{ DATABASE_URL: 'postgres://db/' }, /DATABASE_URL: .*names no database/],
    [{ DATABASE_URL: 'postgres:///reelay' }, /DATABASE_URL: .*names no host/],
    [{ DATABASE_URL: 'postgres://user:pa ss@[bad/reelay' }, /DATABASE_URL: not a valid PostgreSQL URL/],
    [{ DATABASE_URL: 'mysql://db/reelay' }, /DATABASE_URL: unsupported scheme 'mysql:'/],
    [{ DATABASE_URL: 'file:' }, /DATABASE_URL: the file: URL names no file/],
    [{ DATABASE_URL: '   ' }, /DATABASE_URL: must not be empty/],
    [{ DATABASE_POOL_SIZE: '0' }, /DATABASE_POOL_SIZE must be between 1 and 1000/],
    [{ DATABASE_POOL_SIZE: '1001' }, /DATABASE_POOL_SIZE must be between 1 and 1000/],
    [{ DATABASE_POOL_SIZE: '2.5' }, /DATABASE_POOL_SIZE must be a whole number/],
    [{ DATABASE_POOL_SIZE: 'ten' }, /DATABASE_POOL_SIZE must be a number/],
  ])('stops on %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never shows a PostgreSQL password in messages or descriptions', () => {
    let message = '';
    try {
      loadConfig({ DATABASE_URL: 'postgres://reelay:hunter2-secret@db.internal:5432' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).not.toContain('hunter2-secret');
    expect(redactDatabaseUrl('postgres://reelay:hunter2-secret@db:5432/reelay')).toBe('postgres://reelay:***@db:5432/reelay');
    expect(redactDatabaseUrl('postgres://db/reelay?password=hunter2-secret')).not.toContain('hunter2-secret');
    expect(redactDatabaseUrl('postgres://reelay:hunter2@[unparseable/x')).not.toContain('hunter2');
    expect(describeDatabase(loadConfig({ DATABASE_URL: 'postgres://reelay:hunter2-secret@db/reelay' }).database)).toBe('postgres://reelay:***@db/reelay');
    expect(describeDatabase(loadConfig({ DATABASE_URL: 'file:./x.db' }).database)).toBe('./x.db');
  });
});
