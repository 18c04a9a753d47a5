import { describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { browserTests } from '../browser/chromium.js';

/** The dashboard's browser tests fail loudly without Chromium; only SKIP_BROWSER_TESTS=1 skips them. */
vi.setConfig({ testTimeout: 120_000 });
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

function vitestOnBrowserSuite(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VITEST, 'run', 'test/browser/dashboard.test.ts'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('browser test prerequisites', () => {
  it('names the missing Chromium, how to install it and how to skip on purpose', () => {
    expect(() => browserTests({ CHROMIUM_PATH: '/nowhere/chromium' }, () => false)).toThrow(
      /Chromium not found at \/nowhere\/chromium.*apt-get install -y chromium.*CHROMIUM_PATH.*SKIP_BROWSER_TESTS=1/,
    );
    expect(browserTests({}, (p) => p === '/usr/bin/chromium')).toEqual({ run: true, chromium: '/usr/bin/chromium' });
    expect(browserTests({ SKIP_BROWSER_TESTS: '1' }, () => false)).toMatchObject({ run: false });
    expect(() => browserTests({ SKIP_BROWSER_TESTS: '0' }, () => false)).toThrow(/Chromium not found/);
  });

  it('the dashboard suite fails, not skips, when Chromium is missing', async () => {
    const { code, output } = await vitestOnBrowserSuite({ CHROMIUM_PATH: '/nowhere/chromium', SKIP_BROWSER_TESTS: '' });
    expect(code).toBe(1);
    expect(output).toContain('Chromium not found at /nowhere/chromium');
    expect(output).toMatch(/Test Files\s+1 failed/);
  });

  it('SKIP_BROWSER_TESTS=1 skips the browser tests on purpose, and says so', async () => {
    const { code, output } = await vitestOnBrowserSuite({ CHROMIUM_PATH: '/nowhere/chromium', SKIP_BROWSER_TESTS: '1' });
    expect(code).toBe(0);
    expect(output).toContain('SKIP_BROWSER_TESTS=1: the dashboard browser tests are skipped on purpose');
    expect(output).toMatch(/Tests\s+1 passed \| \d+ skipped/);
  });
});
