import { createWriteStream } from 'node:fs';
import { chmod, open, rename, unlink, readdir, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../private-files.js';
import { LengthMismatch, type ArchiveObjectStore } from './object-store.js';

/** Read chunk of archived files served to clients (fewer, larger writes to the socket). */
const READ_CHUNK = 256 * 1024;
/** Temporary files end in this; they are never served, and old ones are swept. */
const PART_SUFFIX = '.part';

/** Counts the bytes going through and fails when they exceed (or, at the end, differ from) `length`. */
export function lengthCheck(length: number | null, counted: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      counted.bytes += chunk.length;
      if (length !== null && counted.bytes > length) return cb(new LengthMismatch(length, counted.bytes));
      cb(null, chunk);
    },
    flush(cb) {
      cb(length !== null && counted.bytes !== length ? new LengthMismatch(length, counted.bytes) : null);
    },
  });
}

/**
 * The directory store (`ARCHIVE_URL=file:<dir>`): one file per variant under `<dir>/<job id>/`,
 * owner-only (directories 0700, files 0600). A file is written under a temporary name, synced, and
 * renamed into place only once complete and of the announced length, so a reader never sees a
 * partial file (rename is atomic on one file system).
 */
export class DirectoryStore implements ArchiveObjectStore {
  readonly kind = 'file' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error('archive key outside the archive directory');
    return path;
  }

  async put(key: string, body: Readable, meta: { contentType: string; length: number | null }, signal?: AbortSignal): Promise<number> {
    const path = this.pathOf(key);
    ensurePrivateDir(dirname(path));
    const temp = `${path}.${randomBytes(6).toString('hex')}${PART_SUFFIX}`;
    const counted = { bytes: 0 };
    try {
      // `flush`: the data reaches the disk before the rename makes it visible.
      const out = createWriteStream(temp, { mode: PRIVATE_FILE_MODE, flags: 'wx', flush: true } as Parameters<typeof createWriteStream>[1]);
      await pipeline(body, lengthCheck(meta.length, counted), out, signal ? { signal } : {});
      await chmod(temp, PRIVATE_FILE_MODE);
      await rename(temp, path);
      return counted.bytes;
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: READ_CHUNK, autoClose: true });
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * Removes temporary files older than `olderThanMs` (left by a process that died mid-copy). Only
   * old ones: another instance sharing the directory may be writing a young one right now.
   */
  async sweepPartials(now: number, olderThanMs: number): Promise<number> {
    let removed = 0;
    let dirs: string[];
    try {
      dirs = await readdir(this.root);
    } catch {
      return 0;
    }
    for (const d of dirs) {
      let names: string[];
      try {
        names = await readdir(join(this.root, d));
      } catch {
        continue;
      }
      for (const n of names) {
        if (!n.endsWith(PART_SUFFIX)) continue;
        const p = join(this.root, d, n);
        const s = await stat(p).catch(() => undefined);
        if (s && now - s.mtimeMs > olderThanMs) {
          await unlink(p).catch(() => {});
          removed++;
        }
      }
    }
    return removed;
  }
}
