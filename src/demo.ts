import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadConfig, ConfigError } from './config.js';
import { startReelay } from './server.js';
import { startSimulator } from './simulator/index.js';
import { keyRefusal } from './keys/service.js';
import { createKeyWithCredit } from './keys/create.js';
import { ensurePrivateDir, ensurePrivateFile } from './private-files.js';
import { hashKey } from './keys/secret.js';
import { parseUsd, formatUsd } from './money.js';

/**
 * `npm run demo`: reelay on http://127.0.0.1:8080 with SQLite at ./data/demo.db and the built-in
 * simulator as its upstream. The demo key and admin token are kept in ./data/demo.json so a second
 * run reuses them.
 */
const DEMO_STATE = './data/demo.json';
const DEMO_CREDIT = parseUsd('25.00');

interface DemoState {
  key: string;
  adminToken: string;
}

function readState(): DemoState | null {
  if (!existsSync(DEMO_STATE)) return null;
  try {
    return JSON.parse(readFileSync(DEMO_STATE, 'utf8')) as DemoState;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  ensurePrivateDir('./data');
  const saved = readState();
  const adminToken = process.env.ADMIN_TOKEN || saved?.adminToken || `admin-${randomBytes(18).toString('base64url')}`;
  const upstreamKey = `sim-${randomBytes(12).toString('hex')}`;
  const simulator = await startSimulator({ port: 0, apiKey: upstreamKey, jobDurationMs: 8000 });

  let config;
  try {
    config = loadConfig({
      PORT: process.env.PORT ?? '8080',
      HOST: process.env.HOST ?? '127.0.0.1',
      DATABASE_URL: process.env.DATABASE_URL ?? './data/demo.db',
      UPSTREAM_BASE_URL: simulator.url,
      UPSTREAM_API_KEY: upstreamKey,
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      RECONCILER_INTERVAL_MS: '1000',
      RECONCILER_MIN_POLL_MS: '1000',
    });
  } catch (err) {
    process.stderr.write(`reelay demo: ${(err as ConfigError).message}\n`);
    process.exit(2);
  }
  const reelay = await startReelay(config);
  const { store } = reelay.deps;

  // Reuse the saved demo key while it is still active; otherwise make a new one with demo credit.
  let secret = saved?.key;
  const existing = secret ? store.findKeyByHash(hashKey(secret)) : undefined;
  if (!secret || keyRefusal(existing, Date.now()) !== null) {
    const created = createKeyWithCredit(store, { name: 'demo', creditMicros: DEMO_CREDIT, creditNote: 'demo credit' }, { actor: 'demo', requestId: null, now: Date.now() });
    secret = created.secret;
  }
  // It holds the demo key and the admin token: owner-only, even when an older run left it 0644.
  ensurePrivateFile(DEMO_STATE);
  writeFileSync(DEMO_STATE, JSON.stringify({ key: secret, adminToken } satisfies DemoState, null, 2));
  const key = store.findKeyByHash(hashKey(secret))!;
  const base = `${reelay.url}/v1`;

  process.stdout.write(`
reelay demo is running (upstream: built-in simulator, database: ${config.databasePath})

  base URL     ${base}
  API key      ${secret}   (balance ${formatUsd(key.balanceMicros - key.heldMicros)} USD)
  admin token  ${adminToken}

Try it with curl:

  curl -s ${base}/videos -H "Authorization: Bearer ${secret}" \\
    -H "Content-Type: application/json" -d '{"model":"sora-2","prompt":"a red kite over the sea","seconds":"4"}'

or with the OpenAI SDK (npm i openai):

  OPENAI_BASE_URL=${base} OPENAI_API_KEY=${secret} node --input-type=module -e '
    import OpenAI from "openai"; const client = new OpenAI();
    const video = await client.videos.create({ model: "sora-2", prompt: "a red kite over the sea" });
    console.log(video.id, video.status);'

Admin: curl -s ${reelay.url}/admin/keys -H "Authorization: Bearer ${adminToken}"
Prompts containing [fail] make a job fail (free); [reject] is refused at create.
Press Ctrl-C to stop.
`);

  const stop = async () => {
    process.stdout.write('\nstopping…\n');
    await reelay.close(3000);
    await simulator.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main();
