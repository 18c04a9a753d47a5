import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES } from '../../src/config.js';

/**
 * What can be checked of the Docker image without Docker: its HEALTHCHECK script against a real
 * server, and the Dockerfile and docker-compose.yml lines the README relies on.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HEALTHCHECK = fileURLToPath(new URL('../../bin/healthcheck.js', import.meta.url));
const read = (name: string) => readFileSync(`${ROOT}/${name}`, 'utf8');

let status = 200;
let server: Server;
let port: number;

function healthcheck(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    delete clean.HOST;
    delete clean.PORT;
    const child = spawn(process.execPath, [HEALTHCHECK], { env: { ...clean, ...env } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('the image HEALTHCHECK (bin/healthcheck.js)', () => {
  it('is healthy when /healthz on HOST:PORT answers 200, and reaches a wildcard HOST on loopback', async () => {
    status = 200;
    expect((await healthcheck({ HOST: '127.0.0.1', PORT: String(port) })).code).toBe(0);
    expect((await healthcheck({ HOST: '0.0.0.0', PORT: String(port) })).code).toBe(0);
  });

  it('is unhealthy when /healthz answers otherwise or nothing listens on PORT', async () => {
    status = 503;
    const down = await healthcheck({ HOST: '0.0.0.0', PORT: String(port) });
    expect(down).toEqual({ code: 1, stderr: 'healthcheck: /healthz answered 503\n' });
    status = 200;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const unused = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const other = await healthcheck({ HOST: '127.0.0.1', PORT: String(unused) });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('ECONNREFUSED');
  });
});

describe('Dockerfile and docker-compose.yml', () => {
  it('runs the compiled server as the non-root node user, with migrations and a healthcheck that has a start period', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^RUN npm prune --omit=dev/m);
    expect(dockerfile).toMatch(/^COPY migrations \.\/migrations$/m);
    expect(dockerfile).toMatch(/^COPY bin \.\/bin$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*--start-period=\d+s[^\n]*\\\n\s+CMD \["node", "bin\/healthcheck\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["node", [^\n]*"dist\/main\.js"\]$/m);
    expect(read('package.json')).toContain('"build": "tsc -p tsconfig.build.json"');
  });

  it('composes the embedded default: SQLite in a named volume, tokens from the environment', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toMatch(/^\s+- reelay-data:\/data$/m);
    expect(compose).toMatch(/^volumes:\n\s+reelay-data:/m);
    for (const name of ['ADMIN_TOKEN', 'METRICS_TOKEN', 'UPSTREAM_API_KEY']) expect(compose).toMatch(new RegExp(`^\\s+${name}: \\$\\{${name}:\\?`, 'm'));
    expect(compose).not.toMatch(/postgres/i);
  });

  it('composes two instances on one PostgreSQL behind a load balancer, with only variables reelay knows', () => {
    const compose = read('docker-compose.postgres.yml');
    // Every UPPER_CASE key but the postgres image's own is one of reelay's settings (a typo would be ignored silently).
    const names = [...compose.matchAll(/^ +([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!).filter((n) => !n.startsWith('POSTGRES_'));
    expect(names).toEqual(expect.arrayContaining(['DATABASE_URL', 'ADMIN_TOKEN', 'INSTANCE_ID']));
    for (const name of names) expect(CONFIG_VARIABLES, name).toContain(name);
    expect(compose).toMatch(/DATABASE_URL: postgres:\/\/reelay:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/reelay/);
    expect([...compose.matchAll(/INSTANCE_ID: (\S+)/g)].map((m) => m[1])).toEqual(['reelay-a', 'reelay-b']);
    const nginx = read('deploy/nginx.conf');
    expect([...nginx.matchAll(/^\s+server (reelay-[ab]):8080/gm)].map((m) => m[1])).toEqual(['reelay-a', 'reelay-b']);
    // A create is never retried on the other instance by the balancer.
    expect(nginx).toMatch(/proxy_next_upstream_tries 1;/);
  });
});
