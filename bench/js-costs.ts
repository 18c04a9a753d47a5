/**
 * `npx tsx bench/js-costs.ts`: per-call costs of small pieces of a status poll, behind changes 20
 * and 21 in docs/performance.md, measured in this process with @hono/node-server's lightweight
 * Response installed as the server installs it:
 *
 *  1. completing a response's headers: copying the filtered upstream headers with an object spread
 *     (as `respond` did) against adding to that fresh object in place (as it does now);
 *  2. filtering an upstream response's headers (`downstreamResponseHeaders`) whose `Connection`
 *     is `keep-alive` (now looked up) against `Keep-Alive` (any other spelling still takes the
 *     general path, which parses the value into a new Set, as every message did before);
 *  3. for scale: JSON.parse of a video object and building the server-timing header.
 *
 * Each measurement runs in two alternating rounds, so a disturbance shows as a disagreement.
 */
import { getRequestListener } from '@hono/node-server';
import { downstreamResponseHeaders } from '../src/relay/headers.js';
import { serverTiming } from '../src/http/request-context.js';
import type { RequestState } from '../src/http/context.js';

getRequestListener(() => new Response(null)); // installs the adapter's Response, as serve() does

const upstreamHeaders = {
  'content-type': 'application/json',
  'content-length': '321',
  date: new Date().toUTCString(),
  connection: 'keep-alive',
  'keep-alive': 'timeout=5',
  'x-request-id': 'req_0123456789abcdef',
};
const parsedConnection = { ...upstreamHeaders, connection: 'Keep-Alive' };
const body =
  '{"id":"video_ip_1","object":"video","status":"in_progress","progress":42,"model":"sora-2","seconds":"4","size":"720x1280","created_at":1763700000,"completed_at":null,"expires_at":null,"prompt":"a benchmark video","remixed_from_video_id":null,"error":null}';
const state = { requestId: 'req_0123', upstreamRequestId: 'req_abc', startedAt: performance.now(), respondedAt: null, upstreamMs: 0.4 } as unknown as RequestState;

let sink: unknown;
function perCall(f: () => void, n = 200_000): number {
  for (let i = 0; i < 20_000; i++) f(); // warm up (JIT)
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t) * 1000) / n;
}

const reelayHeaders = (out: Record<string, string>) => {
  out['x-request-id'] = state.requestId;
  out['x-upstream-request-id'] = state.upstreamRequestId!;
  out['server-timing'] = 'total;dur=1.000, upstream;dur=0.400, reelay;dur=0.600';
  return out;
};

const cases: [string, () => void][] = [
  [
    'response headers: spread copy + new Response',
    () => {
      const h = downstreamResponseHeaders(upstreamHeaders);
      const out = reelayHeaders({ ...h, 'content-type': h['content-type'] ?? 'application/json', 'content-length': '321' });
      sink = new Response(body, { status: 200, headers: out });
    },
  ],
  [
    'response headers: in place + new Response',
    () => {
      const out = downstreamResponseHeaders(upstreamHeaders);
      out['content-type'] ??= 'application/json';
      out['content-length'] = '321';
      sink = new Response(body, { status: 200, headers: reelayHeaders(out) });
    },
  ],
  ['downstreamResponseHeaders, Connection: keep-alive (looked up)', () => void (sink = downstreamResponseHeaders(upstreamHeaders))],
  // Any other spelling still takes the general path, which parses the value into a new Set.
  ['downstreamResponseHeaders, Connection: Keep-Alive (parsed)', () => void (sink = downstreamResponseHeaders(parsedConnection))],
  ['JSON.parse of a video object', () => void (sink = JSON.parse(body))],
  [
    'server-timing header',
    () => {
      state.respondedAt = performance.now();
      sink = serverTiming(state);
    },
  ],
];

for (let round = 1; round <= 2; round++) {
  process.stdout.write(`round ${round}\n`);
  for (const [name, f] of cases) process.stdout.write(`  ${name}: ${perCall(f).toFixed(2)} µs\n`);
}
void sink;
