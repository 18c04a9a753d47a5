import type { Config } from './config.js';
import type { Store } from './db/store.js';
import type { UpstreamRegistry } from './relay/registry.js';
import type { Catalog } from './billing/catalog.js';
import type { Logger } from './logging/logger.js';
import type { RequestLogWriter } from './logging/request-log-writer.js';
import type { DownloadLimiter } from './keys/download-limiter.js';
import type { RateLimiter } from './keys/rate-limiter.js';
import type { AuthThrottle } from './http/auth-throttle.js';
import type { Settlement } from './billing/settlement.js';
import type { Metrics } from './metrics/index.js';
import type { UploadBudget } from './http/upload-budget.js';
import type { InstanceIdentity } from './instance.js';
import type { WebhookWorker } from './webhooks/worker.js';
import type { Archive } from './archive/service.js';

/** Everything the HTTP app needs, built once by the composition root (or by a test). */
export interface Deps {
  config: Config;
  store: Store;
  /** One client per configured upstream, by id (contract §10). */
  upstreams: UpstreamRegistry;
  /** [0, 1): the weighted choice among upstreams of equal priority (tests pass a seeded one). */
  random: () => number;
  catalog: Catalog;
  logger: Logger;
  requestLog: RequestLogWriter;
  /** Requests per minute per key, counted in the database across instances. */
  rateLimiter: RateLimiter;
  /** Content downloads in progress per key. */
  downloads: DownloadLimiter;
  /** Wrong admin tokens per client address, on the admin API and the dashboard's login alike (in the database, across instances). */
  authThrottle: AuthThrottle;
  settlement: Settlement;
  metrics: Metrics;
  /** Request-body bytes buffered at once, across all requests. */
  uploadBudget: UploadBudget;
  now: () => number;
  /** This process as its peers on the database see it (see src/instance.ts). */
  instance: InstanceIdentity;
  /** Delivers webhook events (started by startReelay; tests drive it with runDue()). */
  webhooks: WebhookWorker;
  /** The archive of finished videos; null when ARCHIVE_URL=off. */
  archive: Archive | null;
}
