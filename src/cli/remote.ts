import { request } from 'undici';
import { NothingFound, Refused } from './common.js';
import type { AdminOps, KeyObject, RequestRow } from './ops.js';

const PAGE = 1000;

/**
 * The CLI's operations through a running reelay's admin API (REELAY_URL + ADMIN_TOKEN). A 404 is
 * NothingFound, any other refusal (400, 401, 403, 429, 5xx) is Refused with the server's message;
 * a server that cannot be reached is Refused too.
 */
export function remoteOps(base: URL, token: string): AdminOps {
  async function call(method: string, path: string, opts: { query?: Record<string, string>; body?: unknown } = {}) {
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base : new URL(`${base.href}/`));
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    let res;
    try {
      res = await request(url, {
        method: method as 'GET',
        headers: { authorization: `Bearer ${token}`, ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch (err) {
      throw new Refused(`cannot reach ${base.origin} (REELAY_URL): ${(err as Error).message}`);
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text();
      let message = `HTTP ${res.statusCode}`;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // not reelay's error envelope (a proxy's page): the status says enough
      }
      if (res.statusCode === 404) throw new NothingFound(message);
      const retry = res.headers['retry-after'];
      throw new Refused(`the server refused: ${message}${retry ? ` (retry after ${String(retry)} s)` : ''}`);
    }
    return res;
  }
  const json = async <T>(method: string, path: string, opts: { query?: Record<string, string>; body?: unknown } = {}) => (await (await call(method, path, opts)).body.json()) as T;
  const keyPath = (id: string) => `/admin/keys/${encodeURIComponent(id)}`;

  /** Every item of a `{data, has_more}` list, page by page. */
  async function* pages<T extends { id: string }>(path: string, query: Record<string, string>): AsyncGenerator<T> {
    let after: string | undefined;
    for (;;) {
      const page = await json<{ data: T[]; has_more: boolean }>('GET', path, { query: { ...query, limit: String(PAGE), ...(after && { after }) } });
      yield* page.data;
      if (!page.has_more || page.data.length === 0) return;
      after = page.data[page.data.length - 1]!.id;
    }
  }

  return {
    createKey: (body) => json('POST', '/admin/keys', { body }),
    listKeys: () => pages<KeyObject>('/admin/keys', {}),
    getKey: (id) => json('GET', keyPath(id)),
    updateKey: (id, body) => json('PATCH', keyPath(id), { body }),
    rotateWebhookSecret: (id) => json('POST', `${keyPath(id)}/webhook-secret`),
    revokeKey: (id) => json('DELETE', keyPath(id)),
    credit: (id, body) => json('POST', `${keyPath(id)}/credits`, { body }),
    async *usageExport(query) {
      const res = await call('GET', '/admin/usage/export', { query });
      for await (const chunk of res.body) yield { data: chunk as Buffer };
    },
    usageSummary: (query) => json('GET', '/admin/usage/summary', { query }),
    async findRequests(id) {
      // The API filters by request ids and by video id separately; the CLI shows both, oldest first.
      const rows = new Map<string, RequestRow>();
      for (const filter of ['request_id', 'video_id']) {
        for await (const row of pages<RequestRow>('/admin/requests', { [filter]: id })) rows.set(row.id, row);
      }
      return [...rows.values()].sort((a, b) => Number(a.id) - Number(b.id));
    },
    async close() {},
  };
}
