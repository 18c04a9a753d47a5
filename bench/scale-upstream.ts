/**
 * The reconciler-scale scenario's upstream: plain node:http on loopback. Every
 * `GET /v1/videos/{id}` is answered after DELAY_MS (default 200 ms) with the job in progress and a
 * progress one higher than at its last poll, so every poll brings news and reelay writes it. It
 * records, per video id, when each poll arrived and when its answer was sent (Date.now(), the
 * same clock as the parent's), and hands them over on `{ cmd: 'report' }`.
 *
 * Run as a child process: reports `{ ready, port }` over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const DELAY_MS = Number(process.env.DELAY_MS ?? 200);
const CREATED_AT = Math.floor(Date.now() / 1000) - 7200;

/** video id → [received, answered, received, answered, …] */
const polls = new Map<string, number[]>();
let inFlight = 0;
let maxInFlight = 0;

const PATH = /^\/v1\/videos\/([^/?]+)(?:\?.*)?$/;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const received = Date.now();
  const m = req.method === 'GET' ? PATH.exec(req.url ?? '') : null;
  req.resume();
  if (!m) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}');
    return;
  }
  const id = m[1]!;
  const times = polls.get(id) ?? [];
  polls.set(id, times);
  const n = times.length / 2;
  times.push(received, NaN);
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  setTimeout(() => {
    inFlight--;
    const body = JSON.stringify({
      id,
      object: 'video',
      model: 'sora-2',
      status: 'in_progress',
      progress: 1 + (n % 98),
      created_at: CREATED_AT,
      completed_at: null,
      expires_at: null,
      size: '720x1280',
      seconds: '4',
      quality: 'standard',
      prompt: 'a benchmark video',
      remixed_from_video_id: null,
      error: null,
    });
    times[2 * n + 1] = Date.now();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': `req_scale_${id}_${n}` });
    res.end(body);
  }, DELAY_MS);
}

if (process.send) {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handle);
  server.listen(0, '127.0.0.1', () => process.send!({ ready: true, port: (server.address() as AddressInfo).port }));
  process.on('message', (msg: { cmd?: string }) => {
    if (msg.cmd === 'report') process.send!({ report: { polls: Object.fromEntries(polls), maxInFlight } });
  });
  process.on('disconnect', () => process.exit(0));
}
