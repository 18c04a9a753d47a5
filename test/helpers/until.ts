/**
 * Resolves with `f`'s first truthy value, asking every `everyMs`; fails naming `what` once
 * `timeoutMs` have passed (a bound for a loaded machine, not a timing assertion).
 */
export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
