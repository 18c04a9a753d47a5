import { parseArgs } from 'node:util';
import { createKeySchema, creditSchema, patchKeySchema } from '../admin/keys-routes.js';
import { WebhookAddressError, parseWebhookUrl } from '../webhooks/address.js';
import { HELP } from './help.js';
import { UsageError, defined, intOption, out, parseOptions } from './common.js';
import { openOps } from './ops.js';

/**
 * The form of a --webhook-url (http or https, a host, no credentials): a malformed one is a bad
 * command line (exit 2), caught before anything is opened or sent. Where it resolves is checked
 * by the server, or locally as the server would (a refusal is exit 1).
 */
function webhookUrlOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    parseWebhookUrl(value);
  } catch (err) {
    if (err instanceof WebhookAddressError) throw new UsageError(`--webhook-url ${err.message}`);
    throw err;
  }
  return value;
}

/** The stderr note after a webhook secret was printed. */
const SECRET_NOTE = 'Store the webhook secret now (webhook_secret): it is not shown again.';

/**
 * `reelay keys create|list|show|update|revoke|credit|rotate-webhook-secret`: the same changes as
 * /admin/keys, audited alike.
 */
export async function keysCommand(sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      credit: { type: 'string' },
      models: { type: 'string' },
      rpm: { type: 'string' },
      'max-inflight': { type: 'string' },
      'max-downloads': { type: 'string' },
      expires: { type: 'string' },
      amount: { type: 'string' },
      note: { type: 'string' },
      'webhook-url': { type: 'string' },
      'no-webhook': { type: 'boolean' },
    },
  });
  const idArg = () => {
    const id = positionals[0];
    if (!id) throw new UsageError(HELP[`keys ${sub}`]!);
    return id;
  };
  // Everything is checked before the database is opened or the server called.
  let run: (ops: Awaited<ReturnType<typeof openOps>>) => Promise<void>;
  switch (sub) {
    case 'create': {
      if (!values.name) throw new UsageError('--name is required');
      const body = defined({
        name: values.name,
        credit_usd: values.credit,
        allowed_models: values.models?.split(',').map((m) => m.trim()).filter(Boolean),
        rpm_limit: intOption(values.rpm, 'rpm'),
        max_inflight_jobs: intOption(values['max-inflight'], 'max-inflight'),
        max_concurrent_downloads: intOption(values['max-downloads'], 'max-downloads'),
        expires_at: values.expires,
        webhook_url: webhookUrlOption(values['webhook-url']),
      });
      parseOptions(createKeySchema, body);
      run = async (ops) => {
        const created = await ops.createKey(body);
        out(created);
        process.stderr.write(created.webhook_secret === undefined ? 'Store the key now: it is not shown again.\n' : 'Store the key and its webhook secret now: neither is shown again.\n');
      };
      break;
    }
    case 'update': {
      const id = idArg();
      if (values['webhook-url'] !== undefined && values['no-webhook']) throw new UsageError('give either --webhook-url or --no-webhook, not both');
      const body = defined({
        name: values.name,
        webhook_url: values['no-webhook'] ? null : webhookUrlOption(values['webhook-url']),
      });
      if (Object.keys(body).length === 0) throw new UsageError(`nothing to change\n\n${HELP['keys update']!}`);
      parseOptions(patchKeySchema, body);
      run = async (ops) => {
        const updated = await ops.updateKey(id, body);
        out(updated);
        if (updated.webhook_secret !== undefined) process.stderr.write(`${SECRET_NOTE}\n`);
      };
      break;
    }
    case 'rotate-webhook-secret': {
      const id = idArg();
      run = async (ops) => {
        const rotated = await ops.rotateWebhookSecret(id);
        out(rotated);
        process.stderr.write(`${SECRET_NOTE} The previous secret keeps signing until ${rotated.previous_secret_expires_at}.\n`);
      };
      break;
    }
    case 'list':
      run = async (ops) => {
        for await (const key of ops.listKeys()) out(key);
      };
      break;
    case 'show': {
      const id = idArg();
      run = async (ops) => out(await ops.getKey(id));
      break;
    }
    case 'revoke': {
      const id = idArg();
      run = async (ops) => {
        out(await ops.revokeKey(id));
        process.stderr.write(`Revoked ${id}.\n`);
      };
      break;
    }
    case 'credit': {
      const id = idArg();
      if (values.amount === undefined) throw new UsageError('--amount is required');
      const body = defined({ amount_usd: values.amount, note: values.note });
      if (parseOptions(creditSchema, body).amount_usd === 0) throw new UsageError('--amount must not be zero');
      run = async (ops) => out(await ops.credit(id, { amount_usd: values.amount!, ...(values.note !== undefined && { note: values.note }) }));
      break;
    }
    default:
      throw new UsageError(HELP.keys!);
  }
  const ops = await openOps();
  try {
    await run(ops);
  } finally {
    await ops.close();
  }
}
