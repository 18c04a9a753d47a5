import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Files holding keys' balances, hashes and the demo's secrets are readable by their owner only.
 * A creation mode is filtered by the umask, so whatever is created is chmod-ed afterwards too:
 * the result does not depend on the umask the process was started with.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) owner-only. Directories that already existed are left
 * alone: the data directory may be one the operator chose and shares (`.`, `/var/lib`).
 */
export function ensurePrivateDir(dir: string): void {
  const target = resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // mkdir returns the topmost directory it created; tighten it and everything below it.
  for (let d = target; ; d = dirname(d)) {
    chmodSync(d, PRIVATE_DIR_MODE);
    if (d === resolve(first) || dirname(d) === d) break;
  }
}

/** Creates `file` empty if missing, and makes it (new or old) owner-only. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  chmodSync(file, PRIVATE_FILE_MODE);
}

/** Makes each of `files` that exists owner-only. */
export function restrictExisting(...files: string[]): void {
  for (const f of files) if (existsSync(f)) chmodSync(f, PRIVATE_FILE_MODE);
}
