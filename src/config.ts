import { loadUpstreams, type UpstreamSpec } from './relay/upstreams-file.js';
import { z } from 'zod';
import { MoneyFormatError, parseUsd } from './money.js';

/**
 * The whole configuration, read once from the environment by the composition root.
 * Nothing else in the code reads process.env.
 */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The JSON body limit (fixed by the contract); the upload budget must hold at least one such body. */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

const positiveInt = (name: string) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`).positive(`${name} must be positive`);

const schema = z.object({
  PORT: z.coerce
    .number({ error: 'PORT must be a number' })
    .int('PORT must be a whole number')
    .min(0, 'PORT must be between 0 and 65535')
    .max(65535, 'PORT must be between 0 and 65535')
    .default(8080),
  HOST: z.string().min(1, 'HOST must not be empty').default('127.0.0.1'),
  DATABASE_URL: z.string().min(1, 'DATABASE_URL must not be empty').default('./data/reelay.db'),
  // PostgreSQL connections one instance may open (ignored on SQLite).
  DATABASE_POOL_SIZE: z.coerce
    .number({ error: 'DATABASE_POOL_SIZE must be a number' })
    .int('DATABASE_POOL_SIZE must be a whole number')
    .min(1, 'DATABASE_POOL_SIZE must be between 1 and 1000')
    .max(1000, 'DATABASE_POOL_SIZE must be between 1 and 1000')
    .default(10),
  UPSTREAM_BASE_URL: z
    .string()
    .default('https://api.openai.com/v1')
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    }, 'UPSTREAM_BASE_URL must be an http(s) URL such as https://api.openai.com/v1')
    .refine((v) => v.replace(/\/+$/, '').endsWith('/v1'), 'UPSTREAM_BASE_URL must end in /v1'),
  UPSTREAM_API_KEY: z.string().optional(),
  // Several upstreams (contract §10): a JSON file listing them; without it, UPSTREAM_BASE_URL is `default`.
  UPSTREAMS_FILE: z.string().optional(),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
  // A bearer token is one word: a token with spaces could never be presented.
  METRICS_TOKEN: z
    .string()
    .min(16, 'METRICS_TOKEN must be at least 16 characters')
    .regex(/^\S+$/, 'METRICS_TOKEN must not contain spaces')
    .optional(),
  PRICING_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  MAX_MULTIPART_BYTES: positiveInt('MAX_MULTIPART_BYTES').default(64 * 1024 * 1024),
  MAX_JOB_AGE_HOURS: z.coerce.number({ error: 'MAX_JOB_AGE_HOURS must be a number' }).positive('MAX_JOB_AGE_HOURS must be positive').default(24),
  RECONCILER_INTERVAL_MS: positiveInt('RECONCILER_INTERVAL_MS').default(2000),
  RECONCILER_MIN_POLL_MS: positiveInt('RECONCILER_MIN_POLL_MS').default(2000),
  RECONCILER_CONCURRENCY: positiveInt('RECONCILER_CONCURRENCY').default(64),
  // Several instances on one database: how each names itself, and how long a silent one stays alive.
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'INSTANCE_ID must be 1-100 letters, digits, dots, dashes, underscores or colons').optional(),
  INSTANCE_TIMEOUT_MS: positiveInt('INSTANCE_TIMEOUT_MS').default(30_000),
  UPSTREAM_CONNECT_TIMEOUT_MS: positiveInt('UPSTREAM_CONNECT_TIMEOUT_MS').default(10_000),
  UPSTREAM_HEADERS_TIMEOUT_MS: positiveInt('UPSTREAM_HEADERS_TIMEOUT_MS').default(60_000),
  UPSTREAM_BODY_TIMEOUT_MS: positiveInt('UPSTREAM_BODY_TIMEOUT_MS').default(60_000),
  // Two connection budgets to the upstream, so that downloads never hold the connections that
  // polls, creates and the reconciler need; and a per-key cap on concurrent downloads.
  UPSTREAM_CONNECTIONS: positiveInt('UPSTREAM_CONNECTIONS').default(128),
  UPSTREAM_DOWNLOAD_CONNECTIONS: positiveInt('UPSTREAM_DOWNLOAD_CONNECTIONS').default(256),
  MAX_DOWNLOADS_PER_KEY: positiveInt('MAX_DOWNLOADS_PER_KEY').default(8),
  // Client-side timeouts of the HTTP server: slow-drip headers and bodies are cut off, idle
  // keep-alive connections are closed. The request timeout covers receiving the whole request
  // (a large multipart upload), never the response (long downloads are not cut).
  HTTP_HEADERS_TIMEOUT_MS: positiveInt('HTTP_HEADERS_TIMEOUT_MS').default(20_000),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt('HTTP_REQUEST_TIMEOUT_MS').default(300_000),
  HTTP_KEEPALIVE_TIMEOUT_MS: positiveInt('HTTP_KEEPALIVE_TIMEOUT_MS').default(5_000),
  REQUEST_LOG_RETENTION_DAYS: positiveInt('REQUEST_LOG_RETENTION_DAYS').default(30),
  // Lingering close: after answering a request whose body is still arriving (a 413, 401, 429…),
  // keep reading and discarding it for at most this long and this many bytes before closing, so
  // the client can read the answer instead of a connection reset.
  LINGER_TIMEOUT_MS: positiveInt('LINGER_TIMEOUT_MS').default(5_000),
  LINGER_MAX_BYTES: positiveInt('LINGER_MAX_BYTES').default(64 * 1024 * 1024),
  // Request bodies buffered in memory at once, across all requests; past it, 503 server_busy.
  MAX_BUFFERED_UPLOAD_BYTES: positiveInt('MAX_BUFFERED_UPLOAD_BYTES').default(256 * 1024 * 1024),
  // Webhooks to clients (contract §12): `1` lets webhook URLs resolve to loopback or private addresses.
  WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1'], { error: 'WEBHOOK_ALLOW_PRIVATE must be 0 or 1' }).default('0'),
  // The archive (contract §11): where finished videos are copied, for how long, how many at once.
  ARCHIVE_URL: z.string().default('file:./data/archive'),
  ARCHIVE_RETENTION_DAYS: z.coerce.number({ error: 'ARCHIVE_RETENTION_DAYS must be a number' }).positive('ARCHIVE_RETENTION_DAYS must be positive').default(30),
  ARCHIVE_CONCURRENCY: positiveInt('ARCHIVE_CONCURRENCY').default(2),
  // S3-compatible stores: the usual AWS variables, plus an endpoint for stores other than AWS.
  AWS_REGION: z.string().optional(),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  S3_ENDPOINT: z.url({ error: 'S3_ENDPOINT must be a URL such as http://127.0.0.1:9000' }).optional(),
  S3_FORCE_PATH_STYLE: z.enum(['0', '1', 'true', 'false'], { error: 'S3_FORCE_PATH_STYLE must be 1 or 0' }).optional(),
  // The dashboard flags keys whose available balance is below this (a USD decimal string).
  LOW_BALANCE_USD: z
    .string()
    .default('5.00')
    .transform((v, ctx) => {
      try {
        const micros = parseUsd(v);
        if (micros >= 0) return micros;
      } catch (err) {
        if (!(err instanceof MoneyFormatError)) throw err;
      }
      ctx.addIssue({ code: 'custom', message: 'LOW_BALANCE_USD must be a non-negative USD amount such as "5.00"' });
      return z.NEVER;
    }),
})
  .refine((e) => e.HTTP_HEADERS_TIMEOUT_MS <= e.HTTP_REQUEST_TIMEOUT_MS, {
    path: ['HTTP_HEADERS_TIMEOUT_MS'],
    message: 'HTTP_HEADERS_TIMEOUT_MS must not be larger than HTTP_REQUEST_TIMEOUT_MS',
  })
  // A smaller budget would refuse every upload of the largest allowed size, forever.
  .refine((e) => e.MAX_BUFFERED_UPLOAD_BYTES >= Math.max(e.MAX_MULTIPART_BYTES, JSON_BODY_LIMIT_BYTES), {
    path: ['MAX_BUFFERED_UPLOAD_BYTES'],
    message: 'MAX_BUFFERED_UPLOAD_BYTES must be at least MAX_MULTIPART_BYTES (and at least 1 MiB, the JSON body limit)',
  });

/** Every environment variable the configuration reads (the README's table lists each of them). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Where the data lives: a SQLite file (or `:memory:`), or a PostgreSQL server (DATABASE_URL). */
  readonly database: DatabaseConfig;
  readonly upstreamBaseUrl: string;
  readonly upstreamApiKey: string | undefined;
  /** The upstreams (UPSTREAMS_FILE, or `default` from UPSTREAM_BASE_URL/UPSTREAM_API_KEY). Credentials are not enumerable. */
  readonly upstreams: readonly UpstreamSpec[];
  /** UPSTREAMS_FILE, when set. */
  readonly upstreamsFile: string | undefined;
  readonly adminToken: string | undefined;
  /** When set, GET /metrics requires it as a bearer token. */
  readonly metricsToken: string | undefined;
  readonly pricingFile: string | undefined;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly maxMultipartBytes: number;
  readonly maxJobAgeMs: number;
  readonly reconcilerIntervalMs: number;
  readonly reconcilerMinPollMs: number;
  /** Reconciler polls in flight at once per instance (RECONCILER_CONCURRENCY). */
  readonly reconcilerConcurrency: number;
  /** INSTANCE_ID, when set; otherwise each process makes up its own at start. */
  readonly instanceId: string | undefined;
  /** An instance without a heartbeat for this long is dead: its peers take over its work. */
  readonly instanceTimeoutMs: number;
  readonly upstreamTimeouts: { connectMs: number; headersMs: number; bodyMs: number };
  /** Upstream connections for polls, creates and the reconciler / for content downloads. */
  readonly upstreamConnections: { api: number; downloads: number };
  /** Concurrent content downloads per key unless the key sets its own limit. */
  readonly maxDownloadsPerKey: number;
  /** Timeouts on client connections (Node's headersTimeout, requestTimeout, keepAliveTimeout). */
  readonly httpTimeouts: { headersMs: number; requestMs: number; keepAliveMs: number };
  /** Request-log rows older than this are deleted in the background (REQUEST_LOG_RETENTION_DAYS). */
  readonly requestLogRetentionDays: number;
  /** Lingering close after an answer sent before the request body was read (see src/http/linger.ts). */
  readonly linger: { timeoutMs: number; maxBytes: number };
  /** Request-body bytes buffered at once across all requests (see src/http/upload-budget.ts). */
  readonly maxBufferedUploadBytes: number;
  /** The dashboard flags keys whose available balance is below this many micro-USD (LOW_BALANCE_USD). */
  readonly lowBalanceMicros: number;
  /** WEBHOOK_ALLOW_PRIVATE=1: webhook URLs may resolve to loopback, private or link-local addresses. */
  readonly webhookAllowPrivate: boolean;
  /** The archive of finished videos (ARCHIVE_URL, ARCHIVE_RETENTION_DAYS, ARCHIVE_CONCURRENCY, S3 settings). */
  readonly archive: ArchiveConfig;
}

/** Where archived copies go; `off` turns the archive off. */
export type ArchiveTarget =
  | { readonly kind: 'off' }
  | { readonly kind: 'file'; readonly dir: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      readonly region: string | undefined;
      readonly endpoint: string | undefined;
      readonly forcePathStyle: boolean;
      readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
    };

export interface ArchiveConfig {
  readonly target: ArchiveTarget;
  readonly retentionMs: number;
  /** Jobs copied at once per instance. */
  readonly concurrency: number;
}

/** Reads ARCHIVE_URL: `off`, `file:<dir>` (or a plain path), or `s3://<bucket>/<prefix>`. */
export function parseArchiveUrl(value: string, s3: Omit<Extract<ArchiveTarget, { kind: 's3' }>, 'kind' | 'bucket' | 'prefix'>): ArchiveTarget {
  const v = value.trim();
  if (v === 'off') return { kind: 'off' };
  if (v.startsWith('s3://')) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(v);
    if (!m) throw new ConfigError('ARCHIVE_URL: not a valid S3 URL; use s3://<bucket>/<prefix>');
    const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix.split('/').some((p) => p === '..' || p === '.')) throw new ConfigError('ARCHIVE_URL: the S3 prefix may not contain . or .. segments');
    return { kind: 's3', bucket: m[1]!, prefix, ...s3 };
  }
  const dir = v.startsWith('file://') ? decodeURIComponent(new URL(v).pathname) : v.startsWith('file:') ? v.slice('file:'.length) : v;
  if (dir === '' || /^[a-z][a-z0-9+.-]+:\/\//i.test(dir)) throw new ConfigError('ARCHIVE_URL: use off, file:<dir> or s3://<bucket>/<prefix>');
  return { kind: 'file', dir };
}

export class ConfigError extends Error {}

/** DATABASE_URL, read: which engine, and where. `poolSize` is DATABASE_POOL_SIZE. */
export type DatabaseConfig =
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'postgres'; readonly url: string; readonly poolSize: number };

/**
 * Reads DATABASE_URL: `postgres://…` / `postgresql://…` is PostgreSQL; `file:./x.db` and
 * `file:///abs/x.db` become plain SQLite paths; anything else is a SQLite path (`:memory:` stays).
 * A malformed value throws a ConfigError naming DATABASE_URL (never echoing a password).
 */
export function parseDatabaseUrl(value: string, poolSize = 10): DatabaseConfig {
  const v = value.trim();
  if (v === '') throw new ConfigError('DATABASE_URL: must not be empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(v)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new ConfigError('DATABASE_URL: not a valid PostgreSQL URL; use postgres://user:password@host:5432/database');
    }
    if (!u.hostname && !u.searchParams.get('host')) {
      throw new ConfigError(`DATABASE_URL: the PostgreSQL URL ${redactDatabaseUrl(v)} names no host; use postgres://user:password@host:5432/database`);
    }
    if (u.pathname === '' || u.pathname === '/') {
      throw new ConfigError(`DATABASE_URL: the PostgreSQL URL ${redactDatabaseUrl(v)} names no database; use postgres://user:password@host:5432/database`);
    }
    return { engine: 'postgres', url: v, poolSize };
  }
  if (scheme === 'file') {
    const path = v.startsWith('file://') ? safeFileUrlPath(v) : v.slice('file:'.length);
    if (path === '') throw new ConfigError('DATABASE_URL: the file: URL names no file; use file:./data/reelay.db or a plain path');
    return { engine: 'sqlite', path };
  }
  // A URL of another kind (mysql://, http://…) is a mistake, not a file name. One-letter schemes
  // are Windows drive letters (C:\data\reelay.db).
  if (scheme !== undefined && scheme.length > 1 && v.slice(scheme.length + 1).startsWith('//')) {
    throw new ConfigError(`DATABASE_URL: unsupported scheme '${scheme}:'; use a SQLite file path, a file: URL, or postgres://…`);
  }
  return { engine: 'sqlite', path: v };
}

function safeFileUrlPath(v: string): string {
  try {
    return decodeURIComponent(new URL(v).pathname);
  } catch {
    throw new ConfigError('DATABASE_URL: not a valid file: URL; use file:./data/reelay.db or a plain path');
  }
}

/** A database URL fit for logs and messages: the password (if any) replaced by ***. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    // Not parseable: hide whatever sits between '://' and the last '@'.
    return url.replace(/\/\/[^/]*@/, '//***@');
  }
}

/** How a database is shown in logs and messages: the SQLite path, or the URL without its password. */
export function describeDatabase(d: DatabaseConfig): string {
  return d.engine === 'sqlite' ? d.path : redactDatabaseUrl(d.url);
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset, as most shells and .env files mean them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    database: Object.freeze(parseDatabaseUrl(e.DATABASE_URL, e.DATABASE_POOL_SIZE)),
    upstreamBaseUrl: e.UPSTREAM_BASE_URL.replace(/\/+$/, ''),
    upstreamApiKey: e.UPSTREAM_API_KEY,
    upstreamsFile: e.UPSTREAMS_FILE,
    upstreams: Object.freeze(loadUpstreams(e.UPSTREAMS_FILE, cleaned, { baseUrl: e.UPSTREAM_BASE_URL, apiKey: e.UPSTREAM_API_KEY })),
    adminToken: e.ADMIN_TOKEN,
    metricsToken: e.METRICS_TOKEN,
    pricingFile: e.PRICING_FILE,
    logLevel: e.LOG_LEVEL,
    maxMultipartBytes: e.MAX_MULTIPART_BYTES,
    maxJobAgeMs: Math.round(e.MAX_JOB_AGE_HOURS * 3600_000),
    reconcilerIntervalMs: e.RECONCILER_INTERVAL_MS,
    reconcilerMinPollMs: e.RECONCILER_MIN_POLL_MS,
    reconcilerConcurrency: e.RECONCILER_CONCURRENCY,
    instanceId: e.INSTANCE_ID,
    instanceTimeoutMs: e.INSTANCE_TIMEOUT_MS,
    upstreamTimeouts: Object.freeze({
      connectMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersMs: e.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyMs: e.UPSTREAM_BODY_TIMEOUT_MS,
    }),
    upstreamConnections: Object.freeze({ api: e.UPSTREAM_CONNECTIONS, downloads: e.UPSTREAM_DOWNLOAD_CONNECTIONS }),
    maxDownloadsPerKey: e.MAX_DOWNLOADS_PER_KEY,
    httpTimeouts: Object.freeze({
      headersMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveMs: e.HTTP_KEEPALIVE_TIMEOUT_MS,
    }),
    requestLogRetentionDays: e.REQUEST_LOG_RETENTION_DAYS,
    linger: Object.freeze({ timeoutMs: e.LINGER_TIMEOUT_MS, maxBytes: e.LINGER_MAX_BYTES }),
    maxBufferedUploadBytes: e.MAX_BUFFERED_UPLOAD_BYTES,
    lowBalanceMicros: e.LOW_BALANCE_USD,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE === '1',
    archive: Object.freeze({
      target: Object.freeze(
        parseArchiveUrl(e.ARCHIVE_URL, {
          region: e.AWS_REGION,
          endpoint: e.S3_ENDPOINT,
          forcePathStyle: e.S3_FORCE_PATH_STYLE === '1' || e.S3_FORCE_PATH_STYLE === 'true',
          credentials: e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY } : undefined,
        }),
      ),
      retentionMs: Math.round(e.ARCHIVE_RETENTION_DAYS * 86_400_000),
      concurrency: e.ARCHIVE_CONCURRENCY,
    }),
  });
}
