import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from './config.js';
import { openMigratedDatabase } from './db/client.js';
import { createStore, type Store } from './db/store.js';
import { createKey } from './keys/service.js';
import { presentKey, presentLedger } from './admin/present.js';
import { parseUsd, formatUsd } from './money.js';
import { BalanceError } from './db/billing-store.js';

/**
 * The operator CLI: `npx reelay <command>`. Works on the local database named by DATABASE_URL.
 * Data goes to stdout (JSON), messages to stderr, so output pipes well.
 */
const HELP: Record<string, string> = {
  main: `usage: reelay <command> [options]

commands:
  keys create --name NAME [--credit USD] [--models a,b] [--rpm N] [--max-inflight N] [--expires ISO]
  keys list
  keys show ID
  keys revoke ID
  keys credit ID --amount USD [--note TEXT]
  migrate                 apply database migrations
  simulator [--port N]    run the upstream simulator alone

Every command reads DATABASE_URL (default ./data/reelay.db). Add --help to any command.`,
  'keys create': 'usage: reelay keys create --name NAME [--credit USD] [--models a,b] [--rpm N] [--max-inflight N] [--expires ISO]\nPrints the new key as JSON, with its secret in "key" (shown only this once).',
  'keys list': 'usage: reelay keys list\nPrints all keys as JSON lines (never their secrets).',
  'keys show': 'usage: reelay keys show ID\nPrints one key as JSON.',
  'keys revoke': 'usage: reelay keys revoke ID\nRevokes the key: it answers 401 from then on; its history stays.',
  'keys credit': 'usage: reelay keys credit ID --amount USD [--note TEXT]\nA positive amount tops up; a negative one adjusts (never below zero available).',
  migrate: 'usage: reelay migrate\nApplies pending migrations to DATABASE_URL.',
  simulator: 'usage: reelay simulator [--port 8090] [--host 127.0.0.1] [--duration-ms 3000] [--api-key KEY] [--content-bytes N]\nRuns the built-in upstream simulator alone.',
};

class UsageError extends Error {}

function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function openStore(): { store: Store; close: () => void } {
  const config = loadConfig(process.env);
  const database = openMigratedDatabase(config.databasePath);
  return { store: createStore(database), close: () => database.close() };
}

function intOption(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`--${name} must be a positive whole number`);
  return Number(value);
}

async function keysCommand(sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      credit: { type: 'string' },
      models: { type: 'string' },
      rpm: { type: 'string' },
      'max-inflight': { type: 'string' },
      expires: { type: 'string' },
      amount: { type: 'string' },
      note: { type: 'string' },
    },
  });
  const { store, close } = openStore();
  const who = { actor: 'cli', requestId: null, now: Date.now() };
  try {
    switch (sub) {
      case 'create': {
        if (!values.name) throw new UsageError('--name is required');
        const credit = values.credit !== undefined ? parseUsd(values.credit) : 0;
        if (credit < 0) throw new UsageError('--credit must not be negative');
        const expiresAt = values.expires !== undefined ? Date.parse(values.expires) : null;
        if (expiresAt !== null && Number.isNaN(expiresAt)) throw new UsageError('--expires must be an ISO 8601 time');
        const { key, secret } = createKey(
          store,
          {
            name: values.name,
            allowedModels: values.models ? values.models.split(',').map((m) => m.trim()).filter(Boolean) : null,
            rpmLimit: intOption(values.rpm, 'rpm'),
            maxInflightJobs: intOption(values['max-inflight'], 'max-inflight'),
            expiresAt,
          },
          who.now,
        );
        if (credit > 0) store.appendCredit(key.id, credit, 'initial credit', who);
        store.appendAudit({ ...who, action: 'key.create', targetId: key.id, details: { name: values.name, credit_usd: formatUsd(credit) } });
        out({ ...presentKey(store.getKey(key.id)!), key: secret });
        process.stderr.write('Store the key now: it is not shown again.\n');
        return;
      }
      case 'list': {
        let after: string | undefined;
        for (;;) {
          const page = store.listKeys({ after, limit: 500 });
          for (const k of page) out(presentKey(k));
          if (page.length < 500) break;
          after = page[page.length - 1]!.id;
        }
        return;
      }
      case 'show': {
        const key = store.getKey(positionals[0] ?? '');
        if (!key) throw new UsageError(`no key with id '${positionals[0] ?? ''}'`);
        out(presentKey(key));
        return;
      }
      case 'revoke': {
        const id = positionals[0] ?? '';
        if (!store.getKey(id)) throw new UsageError(`no key with id '${id}'`);
        const key = store.revokeKey(id, who.now)!;
        store.appendAudit({ ...who, action: 'key.revoke', targetId: id, details: null });
        out(presentKey(key));
        process.stderr.write(`Revoked ${id}.\n`);
        return;
      }
      case 'credit': {
        const id = positionals[0] ?? '';
        if (!store.getKey(id)) throw new UsageError(`no key with id '${id}'`);
        if (values.amount === undefined) throw new UsageError('--amount is required');
        const amount = parseUsd(values.amount);
        if (amount === 0) throw new UsageError('--amount must not be zero');
        try {
          const entry = store.appendCredit(id, amount, values.note ?? null, who);
          store.appendAudit({ ...who, action: amount > 0 ? 'key.credit' : 'key.adjust', targetId: id, details: { amount_usd: formatUsd(amount), note: values.note ?? null } });
          out({ entry: presentLedger(entry), key: presentKey(store.getKey(id)!) });
        } catch (err) {
          if (err instanceof BalanceError) throw new UsageError('the adjustment would take the available balance below zero');
          throw err;
        }
        return;
      }
      default:
        throw new UsageError(HELP.main!);
    }
  } finally {
    close();
  }
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const sub = command === 'keys' ? rest[0] : undefined;
  const helpKey = sub ? `${command} ${sub}` : (command ?? 'main');
  if (!command || command === '--help' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(`${HELP[helpKey] ?? HELP.main}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'keys':
        await keysCommand(rest[0], rest.slice(1));
        return 0;
      case 'migrate': {
        const { close } = openStore();
        close();
        process.stderr.write('Migrations applied.\n');
        return 0;
      }
      case 'simulator': {
        const { runSimulatorCli } = await import('./simulator/cli.js');
        await runSimulatorCli(rest);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'\n\n${HELP.main}`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`reelay: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`reelay: ${(err as Error).message}\n`);
    return 1;
  }
}

// Run when executed as the CLI entry (not when imported by tests). The simulator keeps running
// until a signal stops it; every other command exits with its status.
const isEntry = process.argv[1] && /(?:cli\.(?:ts|js)|reelay(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  void runCli(process.argv.slice(2)).then((code) => {
    if (code !== 0 || process.argv[2] !== 'simulator') process.exit(code);
  });
}
