/** `runSimulatorCli` in a child process: prints its URL, serves, stops cleanly on SIGTERM/SIGINT. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../src/simulator/cli.ts', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed; output:\n${out}`)), 15_000);
    child.stdout!.on('data', () => {
      const m = /(http:\/\/\S+\/v1)\b/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('simulator CLI', () => {
  it('starts with the given options, serves the API and stops cleanly on SIGTERM', async () => {
    const { child, url } = await startCli(['--port', '0', '--duration-ms', '100', '--api-key', 'sk-cli', '--content-bytes', '1234']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);

    expect((await fetch(`${url}/videos`)).status).toBe(401);
    const created = await fetch(`${url}/videos`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-cli', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'from the cli' }),
    });
    const { id } = (await created.json()) as { id: string };
    await new Promise((r) => setTimeout(r, 150));
    const content = await fetch(`${url}/videos/${id}/content`, { headers: { authorization: 'Bearer sk-cli' } });
    expect(content.headers.get('content-length')).toBe('1234');
    expect((await content.arrayBuffer()).byteLength).toBe(1234);

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    await expect(fetch(`${url}/videos`)).rejects.toThrow();
  });

  it('stops on SIGINT too', async () => {
    const { child, url } = await startCli(['--port=0']);
    expect((await fetch(url.replace(/\/v1$/, '/_sim/stats'))).status).toBe(200);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });

  it('fails with a message on a bad flag', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--port', 'banana'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    expect(await exited(child)).toBe(1);
    expect(err).toMatch(/--port must be a non-negative integer/);
  });
});
