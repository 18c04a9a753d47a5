import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

export type Responder = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A real node:http upstream on port 0 that records every request and answers with a scriptable
 * responder (default: a queued video object for POSTs, 404 otherwise).
 */
export async function startRecordingUpstream(responder?: Responder) {
  const requests: RecordedRequest[] = [];
  let respond: Responder =
    responder ??
    ((req, res) => {
      if (req.method === 'POST') {
        const id = `video_${requests.length}_${Math.random().toString(16).slice(2)}`;
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `up_${id}` });
        res.end(JSON.stringify({ id, object: 'video', model: 'sora-2', status: 'queued', progress: 0, seconds: '4', size: '720x1280' }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
      }
    });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      requests.push(rec);
      void Promise.resolve(respond(rec, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setResponder(r: Responder) {
      respond = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
