/**
 * The ceiling for reelay's architecture: a bare pass-through proxy on the same building blocks
 * (node:http in front, one undici.Pool behind) with nothing else — no auth, no database, no
 * logging, no header filtering beyond hop-by-hop. Whatever reelay does on top costs against this.
 *
 * Child process: `UPSTREAM=http://127.0.0.1:PORT node bare-proxy.js`, reports `{ port }` over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function forwardable(headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v !== undefined && !HOP_BY_HOP.has(name)) out[name] = v;
  }
  return out;
}

export function startBareProxy(upstream: string, port = 0): Promise<http.Server> {
  const pool = new Pool(upstream, { connections: 256, keepAliveTimeout: 10_000 });
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE';
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    pool
      .request({ method: req.method as 'GET', path: req.url ?? '/', headers: forwardable(req.headers), body: hasBody ? req : null, signal: ac.signal })
      .then((up) => {
        res.writeHead(up.statusCode, forwardable(up.headers));
        pipeline(up.body, res, () => {});
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"error":"bad gateway"}');
      });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.send) {
  const server = await startBareProxy(process.env.UPSTREAM ?? 'http://127.0.0.1:1');
  process.send({ ready: true, port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}
