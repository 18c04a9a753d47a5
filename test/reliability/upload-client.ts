import { connect } from 'node:net';

/**
 * An uploading client on a raw TCP socket, for early-refusal tests: it sends a request head, then
 * body bytes (a fixed amount, or without end), and records what came back and how the connection
 * ended — the answer, a clean end of stream from the server, or an error such as ECONNRESET/EPIPE.
 * Every run is bounded by `giveUpMs`.
 */
export interface UploadOptions {
  /** The request head, up to and including the blank line. */
  head: string;
  /** Body bytes to send; Infinity sends until the server closes (or giveUpMs). */
  bodyBytes: number;
  /** Bytes per write (default 64 KiB). */
  chunkBytes?: number;
  /** Pause between writes, to stand for a slow link (default 0: as fast as the socket takes them). */
  chunkDelayMs?: number;
  /** Read nothing until the whole body is written, as a naive client does (default false). */
  readAfterSending?: boolean;
  /** Send a chunked body: each write is framed as one chunk, and the last-chunk marker ends it. */
  chunked?: boolean;
  /** Give up and destroy the socket after this long (default 15 s). */
  giveUpMs?: number;
  /** The byte used to fill the body (default 'a'). */
  fill?: number;
}

export interface UploadResult {
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** ECONNRESET / EPIPE / … when the connection ended with an error on our side */
  error: string | null;
  /** the server closed its side cleanly (end of stream) */
  serverEnded: boolean;
  /** we gave up (giveUpMs) before the server closed */
  gaveUp: boolean;
  bytesSent: number;
  elapsedMs: number;
}

export function upload(port: number, o: UploadOptions): Promise<UploadResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    // Half-open allowed: the server's end of stream does not stop us sending (it is the answer's
    // end; a stubborn or slow client goes on writing its body).
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    const chunk = Buffer.alloc(o.chunkBytes ?? 64 * 1024, o.fill ?? 0x61);
    let bytesSent = 0;
    let error: string | null = null;
    let serverEnded = false;
    let gaveUp = false;
    let finished = false;
    let writing = true;
    if (o.readAfterSending) socket.pause();
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('end', () => {
      serverEnded = true;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', () => finish());
    const timer = setTimeout(() => {
      gaveUp = true;
      finish();
    }, o.giveUpMs ?? 15_000);

    function finish() {
      if (finished) return;
      finished = true;
      writing = false;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({
        status: m ? Number(m[1]) : null,
        headers,
        body: split === -1 ? '' : text.slice(split + 4),
        error,
        serverEnded,
        gaveUp,
        bytesSent,
        elapsedMs: Date.now() - started,
      });
    }

    const doneSending = () => {
      writing = false;
      if (o.chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      socket.end();
      if (o.readAfterSending) socket.resume();
    };
    const writeOne = (): boolean => {
      const n = Math.min(chunk.length, o.bodyBytes - bytesSent);
      bytesSent += n;
      const piece = chunk.subarray(0, n);
      if (!o.chunked) return socket.write(piece);
      socket.write(`${n.toString(16)}\r\n`);
      socket.write(piece);
      return socket.write('\r\n');
    };
    const pump = () => {
      while (writing && !socket.destroyed) {
        if (bytesSent >= o.bodyBytes) return doneSending();
        const more = writeOne();
        if (o.chunkDelayMs) {
          setTimeout(pump, o.chunkDelayMs);
          return;
        }
        if (!more) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.write(o.head);
    pump();
  });
}

/** A request head (with the blank line) for `path` with these header lines. */
export function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}
