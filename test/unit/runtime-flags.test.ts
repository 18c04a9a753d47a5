import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { NODE_FLAGS } from '../../src/runtime-flags.js';

/** The benchmark measures reelay with NODE_FLAGS, so every way of starting it must pass them too. */
describe('Node.js flags', () => {
  it('the Docker image starts reelay with exactly NODE_FLAGS', () => {
    const cmd = readFileSync('Dockerfile', 'utf8').match(/^CMD (\[.*\])$/m);
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1]!)).toEqual(['node', ...NODE_FLAGS, 'dist/main.js']);
  });

  it('npm start passes them too', () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    // node itself, with tsx as its loader: the tsx CLI would sit between a SIGTERM and the server
    // (it relays signals, and SIGKILLs a child that does not acknowledge one within 30 ms).
    expect(scripts.start).toBe(`node --import tsx ${NODE_FLAGS.join(' ')} src/main.ts`);
  });

  it('are flags this Node.js accepts', () => {
    const run = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  /**
   * A hot WebAssembly function (the module is `(func (param i32) (result i32) local.get 0
   * i32.const 1 i32.add)`) is tiered up to TurboFan on a worker thread without the flags, which
   * is the compile whose scratch memory glibc keeps (src/runtime-flags.ts); with them it stays
   * on Liftoff. The check without them shows that the probe does see a tier-up.
   */
  it('keep hot WebAssembly on Liftoff, where without them it is tiered up', () => {
    const probe = `
      const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,6,1,96,1,127,1,127,3,2,1,0,7,5,1,1,102,0,0,10,9,1,7,0,32,0,65,1,106,11]);
      const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f;
      let x = 0;
      for (let i = 0; i < 3e7; i++) x = f(x);
      const deadline = Date.now() + Number(process.env.WAIT_MS);
      const report = () => {
        const tiered = %IsTurboFanFunction(f);
        if (tiered || Date.now() > deadline) console.log(JSON.stringify({ liftoff: %IsLiftoffFunction(f), turbofan: tiered }));
        else setTimeout(report, 50);
      };
      setTimeout(report, 50);`;
    // Without the flags the tier-up shows within a few hundred milliseconds (it is then reported
    // at once); with them the probe waits a second for one that should not come.
    const probeWith = (flags: readonly string[], waitMs: number) => {
      const env = { ...process.env, WAIT_MS: String(waitMs) };
      const run = spawnSync(process.execPath, [...flags, '--allow-natives-syntax', '-e', probe], { encoding: 'utf8', env });
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as { liftoff: boolean; turbofan: boolean };
    };
    expect(probeWith([], 5000)).toEqual({ liftoff: false, turbofan: true });
    expect(probeWith(NODE_FLAGS, 1000)).toEqual({ liftoff: true, turbofan: false });
  });
});
