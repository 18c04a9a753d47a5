import { parseArgs } from 'node:util';
import { createKey } from '../keys/service.js';
import { presentKey, presentLedger } from '../admin/present.js';
import { parseUsd, formatUsd } from '../money.js';
import { BalanceError } from '../db/billing-store.js';
import { parseIsoTime } from '../admin/input.js';
import { HELP } from './help.js';
import { UsageError, intOption, openStore, out } from './common.js';

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
        const expiresAt = values.expires !== undefined ? parseIsoTime(values.expires) : null;
        if (values.expires !== undefined && expiresAt === null) throw new UsageError('--expires must be an ISO 8601 date or timestamp, e.g. 2027-01-01');
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
        throw new UsageError(HELP.keys!);
    }
  } finally {
    close();
  }
}
