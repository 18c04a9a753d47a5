import { existsSync } from 'node:fs';

/**
 * Whether the browser tests run, and with which Chromium. They always run unless
 * SKIP_BROWSER_TESTS=1 says on purpose that they should not; a missing Chromium is an error that
 * says how to install it, never a silent skip.
 */
export type BrowserTests = { run: true; chromium: string } | { run: false; reason: string };

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function browserTests(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): BrowserTests {
  if (env.SKIP_BROWSER_TESTS === '1') return { run: false, reason: 'SKIP_BROWSER_TESTS=1: the dashboard browser tests are skipped on purpose' };
  const chromium = env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
  if (!exists(chromium)) {
    throw new Error(
      `Chromium not found at ${chromium}: the dashboard browser tests need it. Install it with ` +
        `'apt-get install -y chromium' (.ci/run does), point CHROMIUM_PATH at a Chromium binary, ` +
        `or set SKIP_BROWSER_TESTS=1 to skip these tests on purpose.`,
    );
  }
  return { run: true, chromium };
}
