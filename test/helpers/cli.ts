import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The operator CLI as operators run it: `node bin/reelay.js …` in a child process. */
export const BIN = fileURLToPath(new URL('../../bin/reelay.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `env` over a clean copy of this process's environment (no DATABASE_URL, REELAY_URL, ADMIN_TOKEN unless given). */
export function runReelayCli(args: string[], env: Record<string, string>, opts: { cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const full: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
    for (const name of ['DATABASE_URL', 'REELAY_URL', 'ADMIN_TOKEN', 'PRICING_FILE']) delete full[name];
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...full, ...env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
