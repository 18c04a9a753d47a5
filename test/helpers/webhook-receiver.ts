import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received. */
  body: string;
  at: number;
}

export type WebhookResponder = (req: ReceivedWebhook, res: ServerResponse) => void;

/** A client's webhook endpoint on 127.0.0.1: records every request; answers 200 unless told otherwise. */
export async function startWebhookReceiver(responder?: WebhookResponder) {
  const received: ReceivedWebhook[] = [];
  let respond: WebhookResponder = responder ?? ((_req, res) => res.writeHead(200).end('ok'));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(rec);
      respond(rec, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/reelay`,
    port,
    received,
    respond(r: WebhookResponder) {
      respond = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The headers of a received webhook as the OpenAI SDK's unwrap wants them. */
export function headersOf(w: ReceivedWebhook): Record<string, string> {
  return Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
}
