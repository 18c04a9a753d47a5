// The PostgreSQL schema set; the same tables, under the same export names, as src/db/schema.
export { apiKeys } from './keys.js';
export { jobs } from './jobs.js';
export { ledger } from './ledger.js';
export { idempotencyKeys } from './idempotency.js';
export { requestLog } from './request-log.js';
export { auditLog } from './audit.js';
export { characters } from './characters.js';
export { instances, adminSessions, authFailures, rateWindows } from './coordination.js';
export { webhookSecrets, webhookEvents, webhookAttempts } from './webhooks.js';
export { archiveTasks } from './archive.js';
export { upstreamHealth } from './upstreams.js';
