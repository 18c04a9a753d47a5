#!/usr/bin/env node
// The Docker image's HEALTHCHECK: GET /healthz on the address and port reelay listens on (HOST,
// PORT, as the server reads them), exit 0 when it answers 200, else 1. A wildcard HOST (0.0.0.0,
// ::) is reached on loopback. Node's own fetch: the image has no curl.
const host = process.env.HOST || '127.0.0.1';
const port = process.env.PORT || '8080';
const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;

try {
  const res = await fetch(`http://${target}:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exitCode = res.status === 200 ? 0 : 1;
  if (res.status !== 200) process.stderr.write(`healthcheck: /healthz answered ${res.status}\n`);
} catch (err) {
  process.stderr.write(`healthcheck: ${target}:${port}: ${err?.cause?.code ?? err?.message ?? err}\n`);
  process.exitCode = 1;
}
