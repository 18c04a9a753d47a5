import { loadConfig, ConfigError, describeDatabase } from './config.js';
import { startReelay } from './server.js';

/** Composition root for `npm start`: the only place that reads process.env. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`reelay: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let reelay;
  try {
    reelay = await startReelay(config);
  } catch (err) {
    process.stderr.write(`reelay: could not start: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  // Each upstream's id and base URL (never its credential).
  const upstreams = config.upstreams.map((u) => `${u.id}=${u.baseUrl}`).join(', ');
  reelay.deps.logger.info({ url: reelay.url, upstreams, database: describeDatabase(config.database), engine: config.database.engine }, 'reelay listening');
  if (!config.upstreamsFile && !config.upstreamApiKey) reelay.deps.logger.warn('UPSTREAM_API_KEY is not set: upstream calls carry no credential');
  if (!config.adminToken) reelay.deps.logger.warn('ADMIN_TOKEN is not set: the admin API answers 403');

  const shutdown = (signal: string) => {
    reelay.deps.logger.info({ signal }, 'shutting down: draining in-flight requests');
    reelay.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

void main();
