import { parseArgs } from 'node:util';
import { createKeySchema, creditSchema } from '../admin/keys-routes.js';
import { HELP } from './help.js';
import { UsageError, defined, intOption, out, parseOptions } from './common.js';
import { openOps } from './ops.js';

/** `reelay keys create|list|show|revoke|credit`: the same changes as /admin/keys, audited alike. */
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
      });
      parseOptions(createKeySchema, body);
      run = async (ops) => {
        out(await ops.createKey(body));
        process.stderr.write('Store the key now: it is not shown again.\n');
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
