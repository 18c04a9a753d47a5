import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

function start(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('start-up', () => {
  it('stops on invalid configuration with a message naming the variable', () => {
    const r = start({ PORT: 'not-a-port', UPSTREAM_BASE_URL: 'https://x.example/v2' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/PORT/);
    expect(r.stderr).toMatch(/UPSTREAM_BASE_URL must end in \/v1/);
  });

  it('stops on an invalid PRICING_FILE, naming the problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reelay-start-'));
    const file = join(dir, 'pricing.json');
    writeFileSync(file, JSON.stringify({ models: { 'x-model': { seconds: ['4'], default_seconds: '4', default_size: 'a' } } }));
    const r = start({ PRICING_FILE: file, DATABASE_URL: join(dir, 'r.db'), PORT: '0' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/PRICING_FILE/);
    expect(r.stderr).toMatch(/per_second_usd or per_request_usd/);
  });
});
