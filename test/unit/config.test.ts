import { describe, expect, it } from 'vitest';
import { loadConfig, databasePathFromUrl } from '../../src/config.js';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databasePath: './data/reelay.db',
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

  it('reads SQLite paths and file: URLs, and says PostgreSQL is not supported yet', () => {
    expect(databasePathFromUrl('file:./x.db')).toBe('./x.db');
    expect(databasePathFromUrl('file:///var/lib/reelay.db')).toBe('/var/lib/reelay.db');
    expect(() => databasePathFromUrl('postgres://db/reelay')).toThrow(/DATABASE_URL/);
    expect(loadConfig({ UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1/' }).upstreamBaseUrl).toBe('http://127.0.0.1:9/v1');
  });
});
