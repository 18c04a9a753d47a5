/**
 * The benchmarks' fast fake upstream: plain node:http, no framework, stateless. A video id says
 * what the job is, so every target (direct, bare proxy, reelay, Portkey) can use the same ids:
 *
 *   video_ip_<n>          in_progress forever (status polling of running jobs)
 *   video_done_<n>        completed (reelay stores it and serves later polls from its database)
 *   video_c<bytes>_<n>    completed; /content streams <bytes> bytes
 *
 * `POST /v1/videos` answers a queued job whose id follows the prompt: "done", "content:<bytes>",
 * anything else → in progress. Content is written from one shared 64 KiB buffer with backpressure,
 * so the upstream never holds more than a chunk per stream whatever the file size.
 *
 * Run as a child process: `node upstream.js` prints nothing and reports `{ port }` over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const CHUNK = Buffer.alloc(64 * 1024, 0x42);
const CREATED_AT = Math.floor(Date.now() / 1000);
let seq = 0;

function videoObject(id: string, status: 'queued' | 'in_progress' | 'completed', prompt = 'a benchmark video'): string {
  const done = status === 'completed';
  return JSON.stringify({
    id,
    object: 'video',
    model: 'sora-2',
    status,
    progress: done ? 100 : status === 'queued' ? 0 : 42,
    created_at: CREATED_AT,
    completed_at: done ? CREATED_AT + 60 : null,
    expires_at: done ? CREATED_AT + 86_400 : null,
    size: '720x1280',
    seconds: '4',
    quality: 'standard',
    prompt,
    remixed_from_video_id: null,
    error: null,
  });
}

function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': `req_up_${(seq++).toString(36)}`,
    'openai-processing-ms': '1',
  });
  res.end(body);
}

function streamBytes(res: http.ServerResponse, total: number): void {
  res.writeHead(200, {
    'content-type': 'video/mp4',
    'content-length': String(total),
    'accept-ranges': 'bytes',
    'x-request-id': `req_up_${(seq++).toString(36)}`,
  });
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0; // the reader went away: stop producing
  });
  pump();
}

const VIDEO_PATH = /^\/v1\/videos\/([^/?]+)(\/content)?(?:\?.*)?$/;

function statusOf(id: string): 'in_progress' | 'completed' | null {
  if (id.startsWith('video_ip_')) return 'in_progress';
  if (id.startsWith('video_done_') || /^video_c\d+_/.test(id)) return 'completed';
  return null;
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  if (req.method === 'POST' && (url === '/v1/videos' || url.startsWith('/v1/videos?'))) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let prompt = '';
      try {
        prompt = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { prompt?: unknown }).prompt ?? '');
      } catch {
        sendJson(res, 400, '{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}');
        return;
      }
      const n = `${process.pid.toString(36)}${(seq++).toString(36)}`;
      const content = /^content:(\d+)$/.exec(prompt);
      const id = prompt === 'done' ? `video_done_${n}` : content ? `video_c${content[1]}_${n}` : `video_ip_${n}`;
      sendJson(res, 200, videoObject(id, 'queued', prompt));
    });
    return;
  }
  const m = req.method === 'GET' ? VIDEO_PATH.exec(url) : null;
  const status = m ? statusOf(m[1]!) : null;
  if (!m || !status) {
    req.resume();
    sendJson(res, 404, '{"error":{"message":"No video found","type":"invalid_request_error","param":null,"code":"not_found"}}');
    return;
  }
  if (m[2]) {
    const size = /^video_c(\d+)_/.exec(m[1]!);
    streamBytes(res, size ? Number(size[1]) : 1024);
    return;
  }
  sendJson(res, 200, videoObject(m[1]!, status));
}

export function startFakeUpstream(port = 0): Promise<http.Server> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handle);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.send) {
  const server = await startFakeUpstream();
  process.send({ ready: true, port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}
