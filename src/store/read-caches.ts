import type { Store } from './store.js';
import type { KeyRow } from './rows.js';
import { JobRowCache, JOB_ROW_CACHE_MS } from '../db/job-row-cache.js';
import { KEY_AUTH_CACHE_MS } from '../db/keys-store.js';

/**
 * The two reads every /v1 request makes — its key by hash, and the job of the video it names —
 * served for a moment from memory, as a decorator over any Store (the SQLite engine keeps the same
 * caches inside it). Staleness bound: a row is reused for at most KEY_AUTH_CACHE_MS /
 * JOB_ROW_CACHE_MS (1 s) after it was read, and every change this process makes drops the rows it
 * touches at once, so the bound only applies to changes made by another instance. That is safe
 * because nothing a request does with these rows moves money or state without a compare-and-set in
 * the database (placeHold checks the balance, settleJob the status, …); a key revoked or disabled on
 * one instance is refused by the others within a second.
 */
export function withReadCaches(store: Store, clock: () => number = () => performance.now()): Store {
  const keys = new Map<string, { row: KeyRow; at: number }>();
  const jobs = new JobRowCache(clock);
  const forgetKeys = () => keys.clear();
  /** Wraps `unit` so that, once it has run, the cached rows it may have changed are dropped. */
  const after =
    <A extends unknown[], R>(unit: (...args: A) => Promise<R>, forget: (args: A, result: R) => void) =>
    async (...args: A): Promise<R> => {
      const result = await unit(...args);
      forget(args, result);
      return result;
    };
  const forgetJob = (args: [string, ...unknown[]]) => jobs.forget(args[0]);
  // deferPollSchedule is not wrapped: it only moves the next poll time, and a cached row with an
  // older one makes a poll ask for the same move again (in memory), nothing more.

  return {
    ...store,
    async findKeyForAuth(hash: string) {
      const now = clock();
      const hit = keys.get(hash);
      if (hit && now - hit.at < KEY_AUTH_CACHE_MS) return hit.row;
      const row = await store.findKeyForAuth(hash);
      if (keys.size >= 10_000) keys.clear();
      // Unknown hashes are never cached: a key created a moment ago works at once.
      if (row) keys.set(hash, { row, at: now });
      else keys.delete(hash);
      return row;
    },
    async getJobForRequest(keyId: string, videoId: string) {
      const hit = jobs.get(keyId, videoId);
      if (hit) return hit;
      const row = await store.getJobForRequest(keyId, videoId);
      if (row) jobs.set(row);
      return row;
    },
    createKey: after(store.createKey.bind(store), forgetKeys),
    updateKey: after(store.updateKey.bind(store), forgetKeys),
    revokeKey: after(store.revokeKey.bind(store), forgetKeys),
    recordSubmitted: after(store.recordSubmitted.bind(store), forgetJob),
    settleJob: after(store.settleJob.bind(store), forgetJob),
    recordLateCompletion: after(store.recordLateCompletion.bind(store), forgetJob),
    recordProgress: after(store.recordProgress.bind(store), forgetJob),
    recordPollFailure: after(store.recordPollFailure.bind(store), forgetJob),
    recordNotFound: after(store.recordNotFound.bind(store), forgetJob),
    markDeleted: after(store.markDeleted.bind(store), forgetJob),
    claimDueJobs: after(store.claimDueJobs.bind(store), (_args, rows) => rows.forEach((r) => jobs.forget(r.id))),
  };
}

export { KEY_AUTH_CACHE_MS, JOB_ROW_CACHE_MS };
