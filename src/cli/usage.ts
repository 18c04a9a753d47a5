import { parseArgs } from 'node:util';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { exportChunks } from '../admin/export.js';
import { usageExportQuerySchema, usageSummary, usageSummaryQuerySchema } from '../admin/usage-routes.js';
import { HELP } from './help.js';
import { UsageError, openStore, parseOptions } from './common.js';

/** `reelay usage export|summary`: the billing export and totals, from the local database. */
export async function usageCommand(sub: string | undefined, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      key: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      'group-by': { type: 'string' },
    },
  });
  switch (sub) {
    case 'export': {
      const q = parseOptions(usageExportQuerySchema, { from: values.from, to: values.to, key_id: values.key, format: values.format });
      const { store, close } = openStore();
      try {
        const chunks = exportChunks((after, limit) => store.usageExportPage({ from: q.from, to: q.to, keyId: q.key_id }, after, limit), q.format);
        await writeExport(chunks, values.out);
      } finally {
        close();
      }
      return;
    }
    case 'summary': {
      const q = parseOptions(usageSummaryQuerySchema, { from: values.from, to: values.to, key_id: values.key, group_by: values['group-by'] });
      const { store, close } = openStore();
      try {
        process.stdout.write(`${JSON.stringify(usageSummary(store, { from: q.from, to: q.to, keyId: q.key_id }, q.group_by), null, 2)}\n`);
      } finally {
        close();
      }
      return;
    }
    default:
      throw new UsageError(HELP.usage!);
  }
}

/**
 * Writes the chunks to stdout or to `file` (via `file.partial`, renamed once complete), waiting
 * for `drain` so memory stays flat. A closed stdout (`| head`) ends the export quietly.
 */
async function writeExport(chunks: Generator<{ text: string; rows: number }>, file: string | undefined): Promise<void> {
  const partial = file === undefined ? undefined : `${file}.partial`;
  const dest: Writable = partial === undefined ? process.stdout : createWriteStream(partial);
  const tty = process.stderr.isTTY === true;
  let failure: NodeJS.ErrnoException | null = null;
  const onError = (err: NodeJS.ErrnoException) => {
    failure ??= err;
  };
  dest.on('error', onError);
  let rows = 0;
  try {
    for (const chunk of chunks) {
      if (failure) break;
      rows += chunk.rows;
      if (!dest.write(chunk.text)) await Promise.race([once(dest, 'drain'), once(dest, 'close')]);
      if (tty && chunk.rows > 0) process.stderr.write(`\rreelay: exported ${rows} rows`);
    }
    if (partial !== undefined && !failure) {
      dest.end();
      await once(dest, 'close');
    }
  } catch (err) {
    onError(err as NodeJS.ErrnoException);
  }
  if (tty) process.stderr.write(rows > 0 ? '\n' : '');
  if (failure !== null) {
    const err: NodeJS.ErrnoException = failure;
    if (partial !== undefined) {
      dest.destroy();
      rmSync(partial, { force: true });
    }
    if (partial === undefined && err.code === 'EPIPE') return;
    throw err;
  }
  if (partial !== undefined) {
    renameSync(partial, file!);
    if (tty) process.stderr.write(`reelay: wrote ${rows} rows to ${file}\n`);
  }
}
