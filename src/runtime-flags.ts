/**
 * The Node.js flags reelay runs with: the Dockerfile's CMD, `npm start` and the benchmark all pass
 * exactly these (test/unit/runtime-flags.test.ts keeps them in step).
 *
 * --max-semi-space-size=8: V8's young generation may grow to 2 × 8 MB instead of Node's default
 * 2 × 16 MB. Under many concurrent downloads it otherwise doubles and stays doubled, which was
 * about 17 MB of the RSS growth with 200 slow readers; request objects still die young at 8 MB.
 * Measured in docs/performance.md (change 19).
 *
 * --liftoff-only: WebAssembly stays on V8's baseline compiler. The WebAssembly reelay runs is
 * undici's HTTP parser (llhttp; Node's bundled copy is compiled at start-up, the npm package's on
 * the first upstream request). Tiering it up with TurboFan takes a compile whose scratch memory
 * (at least 14 MB, allocated on a V8 worker thread) glibc keeps resident afterwards: about 10 MB of
 * RSS in some processes and not others, before or during load, at random. Measured in
 * docs/performance.md (change 30): no cost in CPU per request was found.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--liftoff-only'];
