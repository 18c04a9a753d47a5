/**
 * The load generator, a child process of its own so its CPU and memory stay apart from the
 * targets'. It receives one job at a time over IPC and answers with the result. Every job is
 * bounded by a duration and a request count, and talks to 127.0.0.1 only.
 *
 *  - throughput: `concurrency` keep-alive connections, each sending the next request as soon as
 *    the previous answer is read; requests/s and latency percentiles over the measured window.
 *  - download: sequential GETs of a large body, timed from request to last byte.
 *  - slow: `clients` raw sockets reading one large response each at a capped rate, then hanging up.
 */
import net from 'node:net';
import { Pool } from 'undici';

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface ThroughputJob {
  kind: 'throughput';
  origin: string;
  /** Several origins (instances of one target): connection i goes to origins[i % n], round robin. */
  origins?: string[];
  requests: HttpRequestSpec[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
  expectStatus: number;
}

export interface DownloadJob {
  kind: 'download';
  origin: string;
  request: HttpRequestSpec;
  count: number;
  expectBytes: number;
}

export interface SlowJob {
  kind: 'slow';
  port: number;
  request: HttpRequestSpec;
  clients: number;
  bytesPerSecond: number;
  durationMs: number;
}

export type LoadJob = ThroughputJob | DownloadJob | SlowJob;

export interface ThroughputResult {
  kind: 'throughput';
  count: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
}
export interface DownloadResult {
  kind: 'download';
  seconds: number[];
  errors: number;
  firstError: string | null;
}
export interface SlowResult {
  kind: 'slow';
  bytes: number;
  errors: number;
  firstError: string | null;
}
export type LoadResult = ThroughputResult | DownloadResult | SlowResult;

/** Sent once the warm-up is over, so the parent can start its CPU and memory accounting. */
export interface MeasuringNotice {
  measuring: true;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function throughput(job: ThroughputJob, notify: () => void): Promise<ThroughputResult> {
  const origins = job.origins && job.origins.length > 0 ? job.origins : [job.origin];
  const pools = origins.map((o, i) => new Pool(o, { connections: Math.ceil((job.concurrency - i) / origins.length), pipelining: 1, keepAliveTimeout: 30_000 }));
  const latencies = new Float64Array(Math.max(1, job.maxRequests));
  let count = 0;
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  let next = 0;
  const worker = async (pool: Pool) => {
    while (!stop) {
      const spec = job.requests[next++ % job.requests.length]!;
      const t0 = performance.now();
      try {
        const res = await pool.request({ method: spec.method, path: spec.path, headers: spec.headers, body: spec.body ?? null });
        await res.body.dump({ limit: 1 << 20 });
        if (res.statusCode !== job.expectStatus) throw new Error(`status ${res.statusCode} for ${spec.method} ${spec.path}`);
        if (measuring && count < latencies.length) latencies[count++] = performance.now() - t0;
      } catch (err) {
        if (measuring) errors++;
        firstError ??= (err as Error).message;
      }
      if (count >= job.maxRequests) stop = true;
    }
  };
  const workers = Array.from({ length: job.concurrency }, (_, i) => worker(pools[i % pools.length]!));
  await new Promise((r) => setTimeout(r, job.warmupMs));
  measuring = true;
  notify();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, job.durationMs));
  stop = true;
  const seconds = (performance.now() - started) / 1000;
  const measured = count;
  await Promise.all(workers);
  await Promise.all(pools.map((p) => p.close()));
  const sorted = latencies.slice(0, measured).sort();
  return { kind: 'throughput', count: measured, errors, firstError, seconds, rps: measured / seconds, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99) };
}

async function download(job: DownloadJob, notify: () => void): Promise<DownloadResult> {
  const pool = new Pool(job.origin, { connections: 1 });
  const seconds: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  notify();
  for (let i = 0; i < job.count; i++) {
    const t0 = performance.now();
    try {
      const res = await pool.request({ method: job.request.method, path: job.request.path, headers: job.request.headers });
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      if (res.statusCode !== 200 || bytes !== job.expectBytes) throw new Error(`status ${res.statusCode}, ${bytes} bytes`);
      seconds.push((performance.now() - t0) / 1000);
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    }
  }
  await pool.close();
  return { kind: 'download', seconds, errors, firstError };
}

/** Slow readers: each socket reads at most `bytesPerSecond`, pausing in between (TCP backpressure). */
async function slow(job: SlowJob, notify: () => void): Promise<SlowResult> {
  const tickMs = 50;
  const perTick = (job.bytesPerSecond * tickMs) / 1000;
  const head =
    `${job.request.method} ${job.request.path} HTTP/1.1\r\nhost: 127.0.0.1:${job.port}\r\n` +
    Object.entries(job.request.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  let bytes = 0;
  let errors = 0;
  let firstError: string | null = null;
  const readers = Array.from({ length: job.clients }, () => {
    const socket = net.connect(job.port, '127.0.0.1');
    const r = { socket, allowance: perTick, got: 0 };
    socket.on('connect', () => socket.write(head));
    socket.on('data', (chunk: Buffer) => {
      r.got += chunk.length;
      bytes += chunk.length;
      if (r.got >= r.allowance) socket.pause();
    });
    socket.on('error', (err) => {
      errors++;
      firstError ??= err.message;
    });
    return r;
  });
  const timer = setInterval(() => {
    for (const r of readers) {
      r.allowance += perTick;
      if (r.got < r.allowance && r.socket.isPaused()) r.socket.resume();
    }
  }, tickMs);
  notify();
  await new Promise((res) => setTimeout(res, job.durationMs));
  clearInterval(timer);
  for (const r of readers) r.socket.destroy();
  return { kind: 'slow', bytes, errors, firstError };
}

export function runJob(job: LoadJob, notify: () => void = () => {}): Promise<LoadResult> {
  switch (job.kind) {
    case 'throughput':
      return throughput(job, notify);
    case 'download':
      return download(job, notify);
    case 'slow':
      return slow(job, notify);
  }
}

if (process.send) {
  process.on('message', (job: LoadJob) => {
    runJob(job, () => process.send!({ measuring: true } satisfies MeasuringNotice)).then(
      (result) => process.send!({ result }),
      (err: Error) => process.send!({ error: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
