import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES } from '../../src/config.js';

/**
 * The README's configuration table names every environment variable reelay reads, and nothing
 * else: the config schema's keys, the variables read outside it (listed here, each documented),
 * and any `process.env.NAME` read anywhere in src/ or bin/.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Read outside the config schema, and documented in the same table. */
const OUTSIDE_SCHEMA = [
  'REELAY_URL', // the CLI: act through a running server's admin API (with ADMIN_TOKEN)
  'DEMO_DATA_DIR', // npm run demo: where demo.db and demo.json live
];

/** The first column of the README table headed `| variable | default | meaning |`. */
function readmeTableVariables(): string[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|/.test(l));
  expect(start, 'README has a "| variable | default | meaning |" table').toBeGreaterThanOrEqual(0);
  const names: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const firstCell = line.split('|')[1];
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.push(m[1]);
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

/** `process.env.NAME` and `process.env['NAME']` anywhere in the shipped code. */
function processEnvReads(): string[] {
  const names = new Set<string>();
  for (const file of [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'bin'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\])/g)) names.add(m[1] ?? m[2]);
  }
  return [...names];
}

const missingFrom = (from: string[], names: string[]) => [...new Set(names.filter((n) => !from.includes(n)))].sort();

describe("README's configuration table", () => {
  it('lists exactly the variables the config schema and the CLI and demo read', () => {
    const table = readmeTableVariables();
    const read = [...CONFIG_VARIABLES, ...OUTSIDE_SCHEMA, ...processEnvReads()];
    const problems = {
      'read by the code but missing from the README table': missingFrom(table, read),
      'in the README table but read by no code (config.ts schema, OUTSIDE_SCHEMA here, process.env in src/)': missingFrom(read, table),
      'listed twice in the README table': table.filter((n, i) => table.indexOf(n) !== i),
    };
    expect(problems).toEqual({
      'read by the code but missing from the README table': [],
      'in the README table but read by no code (config.ts schema, OUTSIDE_SCHEMA here, process.env in src/)': [],
      'listed twice in the README table': [],
    });
  });

  it('sees every key of the config schema', () => {
    expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(['PORT', 'HOST', 'DATABASE_URL', 'ADMIN_TOKEN', 'METRICS_TOKEN', 'HTTP_KEEPALIVE_TIMEOUT_MS']));
  });
});
