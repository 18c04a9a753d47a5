#!/usr/bin/env node
// The operator CLI. Runs the compiled build when there is one (the Docker image), else the
// TypeScript sources through tsx (a checkout after `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (existsSync(compiled)) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
