/**
 * The upstream simulator: an OpenAI-compatible fake of the `/v1/videos` API for demos, tests and
 * benchmarks (contract section 8). See `state.ts` for the job lifecycle and test controls,
 * `routes.ts` for the API, `control.ts` for the `/_sim/*` HTTP controls.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { registerControlRoutes } from './control.js';
import { SimError } from './errors.js';
import { registerVideoRoutes } from './routes.js';
import { Simulator, type SimulatorOptions, randomHex } from './state.js';

export { Simulator, toVideoObject, jobStatusAt } from './state.js';
export type { SimJob, SimulatorOptions, VideoObject, VideoStatus, Character, LoggedRequest, ListPage } from './state.js';
export type { CreateFailureKind } from './errors.js';
export { syntheticBytes, assetBytes, assetUrl, parseRange } from './media.js';

export interface SimulatorHandle {
  /** Base URL ending in /v1, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  /** Closes the server and all its sockets. */
  close(): Promise<void>;
  sim: Simulator;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createSimulatorApp(sim: Simulator): Hono {
  const app = new Hono();

  // Every response: the upstream's request id and processing time, like OpenAI.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    c.res.headers.set('x-request-id', `req_${randomHex(16)}`);
    c.res.headers.set('openai-processing-ms', String(Math.round(performance.now() - started)));
    c.res.headers.set('openai-version', '2020-10-01');
  });

  // /v1: counted and logged, delayed by the configured latency, then authenticated.
  app.use('/v1/*', async (c, next) => {
    const url = new URL(c.req.url);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, key) => {
      headers[key] = value;
    });
    sim.recordRequest({ method: c.req.method, path: url.pathname, query: url.search.slice(1), headers });
    if (sim.latencyMs > 0) await sleep(sim.latencyMs);
    if (sim.apiKey !== undefined) {
      const auth = c.req.header('authorization') ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m) {
        throw new SimError(
          401,
          'invalid_request_error',
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          null,
          'invalid_api_key',
        );
      }
      if (m[1]!.trim() !== sim.apiKey) {
        throw new SimError(401, 'invalid_request_error', 'Incorrect API key provided.', null, 'invalid_api_key');
      }
    }
    await next();
  });

  registerControlRoutes(app, sim);
  registerVideoRoutes(app, sim);

  app.notFound((c) =>
    c.json(
      { error: { message: `Invalid URL (${c.req.method} ${new URL(c.req.url).pathname})`, type: 'invalid_request_error', param: null, code: 'unknown_url' } },
      404,
    ),
  );

  app.onError((err, c) => {
    if (err instanceof SimError) {
      return c.json(err.body(), err.status as 400, err.headers);
    }
    return c.json(
      { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: 'server_error' } },
      500,
    );
  });

  return app;
}

export async function startSimulator(opts: SimulatorOptions & { port?: number; host?: string } = {}): Promise<SimulatorHandle> {
  const { port = 0, host = '127.0.0.1', ...simOpts } = opts;
  const sim = new Simulator(simOpts);
  const app = createSimulatorApp(sim);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }) as Server;
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const actualPort = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${actualPort}/v1`,
    port: actualPort,
    sim,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
