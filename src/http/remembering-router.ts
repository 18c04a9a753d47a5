import type { Result, Router } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';

/** How many paths are remembered; the oldest is forgotten first. */
export const REMEMBERED_PATHS = 1000;
/**
 * Longer paths are matched every time, not remembered: routing runs before authentication, and
 * a URL may be up to 16 KB, so without this bound anyone could make the memo hold 16 MB.
 */
export const REMEMBERED_PATH_MAX_LENGTH = 256;

/**
 * hono's trie router (the one hono's default SmartRouter falls back to for reelay's routes: its
 * RegExpRouter refuses a static segment beside a parameter, as in `/v1/videos/edits` and
 * `/v1/videos/:id`), remembering its answers for the last REMEMBERED_PATHS method and path pairs.
 * Clients poll the same video's path again and again, and matching it took about 5% of the CPU
 * of a status poll answered from the database (docs/performance.md, change 31). The routes are
 * all added before the first request, and hono only reads a match, so one answer can be handed
 * out again; adding a route forgets everything all the same.
 */
export class RememberingRouter<T> implements Router<T> {
  readonly name = 'RememberingRouter';
  readonly #inner = new TrieRouter<T>();
  readonly #answers = new Map<string, Result<T>>();

  add(method: string, path: string, handler: T): void {
    this.#answers.clear();
    this.#inner.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > REMEMBERED_PATH_MAX_LENGTH) return this.#inner.match(method, path);
    const key = `${method} ${path}`;
    let answer = this.#answers.get(key);
    if (answer === undefined) {
      answer = this.#inner.match(method, path);
      if (this.#answers.size >= REMEMBERED_PATHS) this.#answers.delete(this.#answers.keys().next().value!);
      this.#answers.set(key, answer);
    }
    return answer;
  }

  /** How many answers are remembered now (for tests). */
  get size(): number {
    return this.#answers.size;
  }
}
