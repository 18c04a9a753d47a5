import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerOptions, type RequestListener } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { ConfigError } from './config.js';
import { openMigratedDatabase, type Database_ } from './db/client.js';
import { openStore, sqliteOpened, type OpenedStore } from './db/open.js';
import { UpstreamRegistry } from './relay/registry.js';
import { DownloadLimiter } from './keys/download-limiter.js';
import { buildCatalog, DEFAULT_CATALOG, maxSecondsOf, type Catalog } from './billing/catalog.js';
import { createLogger, type Logger } from './logging/logger.js';
import { RequestLogWriter } from './logging/request-log-writer.js';
import { RequestLogPruner } from './logging/request-log-pruner.js';
import { RateLimiter } from './keys/rate-limiter.js';
import { AuthThrottle, AUTH_FAILURE_WINDOW_MS } from './http/auth-throttle.js';
import { SharedStatePruner } from './store/shared-state-pruner.js';
import { Settlement, DEFAULT_POLL_TIMING, type PollTiming } from './billing/settlement.js';
import { Reconciler } from './billing/reconciler.js';
import { Metrics } from './metrics/index.js';
import { createApp } from './app.js';
import type { Deps } from './deps.js';
import { onClientError, refuseUnusableTarget } from './http/protocol-errors.js';
import { UploadBudget } from './http/upload-budget.js';
import { lingeringResponse } from './http/linger.js';
import { instanceIdentity, InstanceHeartbeat } from './instance.js';
import { WebhookWorker } from './webhooks/worker.js';
import type { Lookup } from './webhooks/address.js';
import { Archive, objectStoreFor } from './archive/service.js';
import { ArchiveWorker, type ArchiveTiming } from './archive/worker.js';
import type { ArchiveObjectStore } from './archive/object-store.js';

/** The package's version, shown in the instances table (src/ and dist/ sit one level below the root). */
const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Reads PRICING_FILE (if any) over the built-in catalog; any problem stops start-up. */
export function loadCatalog(path: string | undefined): Catalog {
  if (!path) return DEFAULT_CATALOG;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`PRICING_FILE: cannot read ${path} as JSON (${(err as Error).message})`);
  }
  try {
    return buildCatalog(json);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export interface BuildOptions {
  now?: () => number;
  logger?: Logger;
  pollTiming?: Partial<PollTiming>;
  /** An open SQLite database to use instead of DATABASE_URL (tests). */
  database?: Database_;
  /** An opened store (either engine) to use instead of DATABASE_URL. */
  storage?: OpenedStore;
  /** Webhook delivery: retry delays instead of contract §12's (tests), how often to look, the attempt timeout, the resolver. */
  webhooks?: { schedule?: readonly number[]; intervalMs?: number; attemptTimeoutMs?: number; concurrency?: number; lookup?: Lookup };
  /** An archive object store to use instead of ARCHIVE_URL's (tests). */
  archiveObjects?: ArchiveObjectStore;
  /** The archive worker's timings (tests). */
  archiveTiming?: Partial<ArchiveTiming>;
  /** [0, 1): the weighted choice among upstreams (default Math.random). */
  random?: () => number;
}

/** What buildDeps adds to Deps: the opened storage, and the SQLite handle tests look under the store with. */
export interface StorageDeps {
  storage: OpenedStore;
  /** The SQLite database (tests read it directly). Reading it on PostgreSQL throws. */
  readonly database: Database_;
}

/**
 * Builds every dependency of the app. The storage is `opts.storage`, else `opts.database`, else
 * DATABASE_URL's SQLite file opened and migrated here; PostgreSQL must be opened first (it is
 * asynchronous: startReelay does it with openStore).
 */
export function buildDeps(config: Config, opts: BuildOptions = {}): Deps & StorageDeps {
  const now = opts.now ?? Date.now;
  const instance = instanceIdentity(config.instanceId, VERSION, now());
  // Every log line names the instance that wrote it.
  const logger = (opts.logger ?? createLogger(config.logLevel)).child({ instance_id: instance.id });
  const catalog = loadCatalog(config.pricingFile);
  const storage = opts.storage ?? sqliteOpened(opts.database ?? openSqliteFromConfig(config));
  const store = storage.store;
  const upstreams = new UpstreamRegistry(config.upstreams, {
    timeouts: config.upstreamTimeouts,
    connections: config.upstreamConnections.api,
    downloadConnections: config.upstreamConnections.downloads,
  });
  const objects = config.archive.target.kind === 'off' ? null : (opts.archiveObjects ?? objectStoreFor(config.archive));
  const archive = objects ? new Archive(objects, store, config.archive.retentionMs, logger, now) : null;
  const metrics = new Metrics({
    reconcilerBacklog: () => store.countOpenJobsDue(now()),
    openHolds: () => store.openHoldTotals(),
    heldMicros: () => store.heldMicrosTotal(),
    reconcilerLagMs: () => store.reconcilerLagMs(now()),
    archiveQueueLength: () => (archive ? store.archiveQueueLength() : Promise.resolve(0)),
    openJobsByUpstream: () => store.openJobsByUpstream(),
  }, { id: instance.id, version: VERSION }, config.upstreams.map((u) => u.id));
  const pollTiming = { ...DEFAULT_POLL_TIMING, minPollMs: config.reconcilerMinPollMs, ...opts.pollTiming };
  const webhooks = new WebhookWorker({
    store,
    logger,
    now,
    instanceId: instance.id,
    instanceTimeoutMs: config.instanceTimeoutMs,
    allowPrivate: config.webhookAllowPrivate,
    ...opts.webhooks,
    onResult: (result) => metrics.webhookDelivery(result),
  });
  const settlement = new Settlement(store, now, logger, pollTiming, {
    onSettled: (s) => metrics.jobSettled(s),
    maxSecondsOf: (model) => maxSecondsOf(catalog, model),
    onWebhookEvent: () => webhooks.wake(),
    archive: archive !== null,
  });
  const requestLog = new RequestLogWriter(store, logger);
  return {
    config,
    store,
    upstreams,
    random: opts.random ?? Math.random,
    catalog,
    logger,
    requestLog,
    rateLimiter: new RateLimiter(store, now),
    downloads: new DownloadLimiter(),
    authThrottle: new AuthThrottle(store, now),
    uploadBudget: new UploadBudget(config.maxBufferedUploadBytes),
    settlement,
    metrics,
    now,
    instance,
    webhooks,
    archive,
    storage,
    get database(): Database_ {
      if (storage.engine !== 'sqlite') throw new Error('deps.database is the SQLite handle; this reelay runs on PostgreSQL (use deps.storage)');
      return storage.database;
    },
  };
}

function openSqliteFromConfig(config: Config): Database_ {
  if (config.database.engine !== 'sqlite') {
    throw new Error('buildDeps: PostgreSQL is opened asynchronously; open it with openStore (src/db/open.ts) and pass it as `storage`');
  }
  return openMigratedDatabase(config.database.path);
}

export interface RunningReelay {
  url: string;
  port: number;
  deps: Deps & StorageDeps;
  reconciler: Reconciler;
  heartbeat: InstanceHeartbeat;
  /** Deletes request-log rows past REQUEST_LOG_RETENTION_DAYS in the background. */
  requestLogPruner: RequestLogPruner;
  /** Copies finished videos into the archive and deletes old copies; null when ARCHIVE_URL=off. */
  archiveWorker: ArchiveWorker | null;
  /** Deletes expired dashboard sessions, old wrong-token records and old rate windows in the background. */
  sharedStatePruner: SharedStatePruner;
  /** Graceful stop: stop accepting, drain in-flight requests (bounded), stop the reconciler, flush, close. */
  close(drainMs?: number): Promise<void>;
}

/** read config → open the database → migrate → build deps → serve → start the reconciler and the background pruners. */
export async function startReelay(config: Config, opts: BuildOptions & { reconciler?: boolean; webhookWorker?: boolean; archiveWorker?: boolean } = {}): Promise<RunningReelay> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  let storage = opts.storage;
  if (!storage && !opts.database && config.database.engine === 'postgres') {
    // Connects and migrates (under the advisory lock) before the port opens; an unreachable
    // server stops start-up here, with pg's own reason.
    storage = await openStore(config, {
      onIdleError: (err) => logger.warn({ err: err.message }, 'an idle database connection failed; it is replaced on demand'),
    });
  }
  let deps: Deps & StorageDeps;
  try {
    deps = buildDeps(config, { ...opts, logger, storage });
  } catch (err) {
    if (storage && !opts.storage) await storage.close().catch(() => {});
    throw err;
  }
  // Alive before serving: peers must not take over the creates this instance is about to make.
  const heartbeat = new InstanceHeartbeat({ store: deps.store, identity: deps.instance, timeoutMs: config.instanceTimeoutMs, now: deps.now, logger: deps.logger });
  await heartbeat.start();
  const app = createApp(deps);
  deps.requestLog.start();
  const t = config.httpTimeouts;
  const serverOptions: ServerOptions = {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    // How often Node looks for expired headers/requests (its default, 30 s, would let a slow-drip
    // client hold a connection far past the timeouts).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(t.headersMs / 2))),
    // A request without Host is answered by refuseUnusableTarget, in the error envelope.
    requireHostHeader: false,
    // Answers sent while the request body is still arriving close the connection with a linger.
    ServerResponse: lingeringResponse(config.linger),
  };
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.port,
        hostname: config.host,
        serverOptions,
        createServer: ((options: ServerOptions, listener: RequestListener) =>
          createServer(options, (req, res) => {
            if (!refuseUnusableTarget(req, res, deps.logger)) void listener(req, res);
          })) as never,
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const httpServer = server as Server;
  httpServer.keepAliveTimeout = t.keepAliveMs;
  httpServer.on('clientError', onClientError(deps.logger, config.linger));
  const reconciler = new Reconciler({
    store: deps.store,
    upstreams: deps.upstreams,
    settlement: deps.settlement,
    logger: deps.logger,
    now: deps.now,
    intervalMs: config.reconcilerIntervalMs,
    maxJobAgeMs: config.maxJobAgeMs,
    instanceId: deps.instance.id,
    instanceTimeoutMs: config.instanceTimeoutMs,
    maxCreateMs: config.upstreamTimeouts.connectMs + config.upstreamTimeouts.headersMs + config.upstreamTimeouts.bodyMs + 60_000,
    concurrency: config.reconcilerConcurrency,
  });
  if (opts.reconciler !== false) reconciler.start();
  if (opts.webhookWorker !== false) deps.webhooks.start();
  const requestLogPruner = new RequestLogPruner({
    store: deps.store,
    logger: deps.logger,
    now: deps.now,
    retentionDays: config.requestLogRetentionDays,
  });
  requestLogPruner.start();
  const archiveWorker = deps.archive
    ? new ArchiveWorker({
        store: deps.store,
        upstreams: deps.upstreams,
        objects: deps.archive.objects,
        logger: deps.logger,
        now: deps.now,
        instanceId: deps.instance.id,
        instanceTimeoutMs: config.instanceTimeoutMs,
        concurrency: config.archive.concurrency,
        retentionMs: config.archive.retentionMs,
        timing: opts.archiveTiming,
        onStored: (bytes) => deps.metrics.archive.stored(bytes),
        onFailed: () => deps.metrics.archive.failed(),
      })
    : null;
  if (opts.archiveWorker !== false) archiveWorker?.start();
  const sharedStatePruner = new SharedStatePruner({ store: deps.store, logger: deps.logger, now: deps.now, authFailureWindowMs: AUTH_FAILURE_WINDOW_MS });
  sharedStatePruner.start();
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | null = null;
  const close = (drainMs = 10_000) =>
    (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // Keep-alive connections become idle as their in-flight response ends: close them then,
      // rather than waiting for the client or for the drain deadline.
      httpServer.closeIdleConnections();
      const sweep = setInterval(() => httpServer.closeIdleConnections(), 50);
      const timer = setTimeout(() => httpServer.closeAllConnections(), drainMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
      await reconciler.stop();
      // Attempts in flight end within their 10 s timeout; their leases are this instance's.
      await deps.webhooks.stop();
      await archiveWorker?.stop();
      await requestLogPruner.stop();
      await sharedStatePruner.stop();
      try {
        await deps.store.flushPollSchedule(deps.now());
      } catch (err) {
        // Only the reconciler's schedule is lost: it polls those jobs once more after a restart.
        deps.logger.warn({ err: (err as Error).message }, 'could not write the last poll-schedule moves at shutdown');
      }
      await deps.requestLog.stop();
      // Last: while requests were draining, this instance's pending creates were still its own.
      await heartbeat.stop();
      await deps.upstreams.close().catch(() => {});
      await deps.storage.close();
    })());

  return { url: `http://${host}:${port}`, port, deps, reconciler, heartbeat, requestLogPruner, archiveWorker, sharedStatePruner, close };
}
