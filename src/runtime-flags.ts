/**
 * The Node.js flags reelay runs with: the Dockerfile's CMD, `npm start` and the benchmark all pass
 * exactly these (test/unit/runtime-flags.test.ts keeps them in step).
 *
 * --max-semi-space-size=8: V8's young generation may grow to 2 × 8 MB instead of Node's default
 * 2 × 16 MB. Under many concurrent downloads it otherwise doubles and stays doubled, which was
 * about 17 MB of the RSS growth with 200 slow readers; request objects still die young at 8 MB.
 * Measured in docs/performance.md (change 19).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
