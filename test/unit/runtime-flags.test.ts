import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
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
    expect(scripts.start).toBe(`tsx ${NODE_FLAGS.join(' ')} src/main.ts`);
  });

  it('are flags this Node.js accepts', () => {
    for (const flag of NODE_FLAGS) expect(process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!)).toBe(true);
  });
});
