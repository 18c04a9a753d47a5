import { createKeyWithCredit } from '../keys/create.js';
import { presentKey, presentLedger, presentRequest } from '../admin/present.js';
import { createKeySchema, creditSchema, keyPatchOf, newKeyRequest, patchAuditDetails, patchKeySchema } from '../admin/keys-routes.js';
import { checkedWebhookUrl, newSecretRecord, rotateWebhookSecret } from '../keys/webhook.js';
import { loadConfig } from '../config.js';
import { exportChunks } from '../admin/export.js';
import { usageExportQuerySchema, usageSummary, usageSummaryQuerySchema } from '../admin/usage-routes.js';
import { BalanceError, type Actor } from '../db/billing-store.js';
import { ApiError } from '../errors.js';
import { formatUsd } from '../money.js';
import { NothingFound, Refused, openLocalStore } from './common.js';
import type { AdminOps } from './ops.js';

/**
 * The CLI's operations on the database named by DATABASE_URL, audited with the actor `cli`. A
 * webhook URL is checked as the server checks it (WEBHOOK_ALLOW_PRIVATE of the CLI's environment).
 */
export async function localOps(): Promise<AdminOps> {
  const config = loadConfig(process.env);
  const { store, close } = await openLocalStore({ config });
  const who = (): Actor => ({ actor: 'cli', requestId: null, now: Date.now() });
  /** The API's 400s (a refused credit or webhook URL) are refusals (exit 1); its 404s, nothing found. */
  const refusals = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) throw new NothingFound(err.message);
      if (err instanceof ApiError && err.status === 400) throw new Refused(err.message);
      throw err;
    }
  };
  const checkedUrl = (url: string) => checkedWebhookUrl(url, config.webhookAllowPrivate);
  const existing = async (id: string) => {
    const key = await store.getKey(id);
    if (!key) throw new NothingFound(`no key with id '${id}'`);
    return key;
  };

  return {
    createKey: (body) =>
      refusals(async () => {
        const request = createKeySchema.parse(body);
        if (request.webhook_url) request.webhook_url = await checkedUrl(request.webhook_url);
        const { key, secret, webhookSecret } = await createKeyWithCredit(store, newKeyRequest(request), who());
        return { ...presentKey(key), key: secret, ...(webhookSecret !== undefined && { webhook_secret: webhookSecret }) };
      }),
    updateKey: (id, body) =>
      refusals(async () => {
        await existing(id);
        const b = patchKeySchema.parse(body);
        if (b.webhook_url) b.webhook_url = await checkedUrl(b.webhook_url);
        const updated = await store.updateKey(id, keyPatchOf(b), { who: who(), entry: { action: 'key.update', targetId: id, details: patchAuditDetails(b) } }, b.webhook_url ? newSecretRecord() : undefined);
        if (!updated) throw new NothingFound(`no key with id '${id}'`);
        const { issuedWebhookSecret, ...key } = updated;
        return { ...presentKey(key), ...(issuedWebhookSecret !== undefined && { webhook_secret: issuedWebhookSecret }) };
      }),
    rotateWebhookSecret: (id) =>
      refusals(async () => {
        await existing(id);
        const { key, secret, previousExpiresAt } = await rotateWebhookSecret(store, id, who());
        return { ...presentKey(key), webhook_secret: secret, previous_secret_expires_at: new Date(previousExpiresAt).toISOString() };
      }),
    async *listKeys() {
      let after: string | undefined;
      for (;;) {
        const page = await store.listKeys({ after, limit: 500 });
        for (const k of page) yield presentKey(k);
        if (page.length < 500) return;
        after = page[page.length - 1]!.id;
      }
    },
    async getKey(id) {
      return presentKey(await existing(id));
    },
    async revokeKey(id) {
      await existing(id);
      const w = who();
      const key = await store.revokeKey(id, w.now, { who: w, entry: { action: 'key.revoke', targetId: id, details: null } });
      return presentKey(key!);
    },
    async credit(id, body) {
      await existing(id);
      const { amount_usd: amount, note } = creditSchema.parse(body);
      const w = who();
      try {
        const entry = await store.appendCredit(id, amount, note ?? null, w, {
          action: amount > 0 ? 'key.credit' : 'key.adjust',
          targetId: id,
          details: { amount_usd: formatUsd(amount), note: note ?? null },
        });
        return { entry: presentLedger(entry), key: presentKey(await existing(id)) };
      } catch (err) {
        if (err instanceof BalanceError) throw new Refused(err.message);
        throw err;
      }
    },
    async *usageExport(query) {
      const q = usageExportQuerySchema.parse(query);
      for await (const chunk of exportChunks((after, limit) => store.usageExportPage({ from: q.from, to: q.to, keyId: q.key_id }, after, limit), q.format)) {
        yield { data: chunk.text, rows: chunk.rows };
      }
    },
    async usageSummary(query) {
      const q = usageSummaryQuerySchema.parse(query);
      return await usageSummary(store, { from: q.from, to: q.to, keyId: q.key_id }, q.group_by);
    },
    async findRequests(id) {
      const rows = [];
      let afterSeq: number | undefined;
      for (;;) {
        const page = await store.findRequestsByAnyId(id, { afterSeq, limit: 500 });
        rows.push(...page.map(presentRequest));
        if (page.length < 500) return rows;
        afterSeq = page[page.length - 1]!.seq;
      }
    },
    async close() {
      await close();
    },
  };
}
