import { parseArgs } from 'node:util';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { usageExportQuerySchema, usageSummaryQuerySchema } from '../admin/usage-routes.js';
import { HELP } from './help.js';
import { UsageError, defined, parseOptions } from './common.js';
import { openOps, type ExportPiece } from './ops.js';

/** `reelay usage export|summary`: the billing export and totals, from the database or a server. */
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
      const query = defined({ from: values.from, to: values.to, key_id: values.key, format: values.format });
      parseOptions(usageExportQuerySchema, query);
      const ops = await openOps();
      try {
        await writeExport(ops.usageExport(query), values.out);
      } finally {
        await ops.close();
      }
      return;
    }
    case 'summary': {
      const query = defined({ from: values.from, to: values.to, key_id: values.key, group_by: values['group-by'] });
      parseOptions(usageSummaryQuerySchema, query);
      const ops = await openOps();
      try {
        process.stdout.write(`${JSON.stringify(await ops.usageSummary(query), null, 2)}\n`);
      } finally {
        await ops.close();
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
async function writeExport(chunks: AsyncIterable<ExportPiece>, file: string | undefined): Promise<void> {
  const partial = file === undefined ? undefined : `${file}.partial`;
  const dest: Writable = partial === undefined ? process.stdout : createWriteStream(partial);
  const tty = process.stderr.isTTY === true;
  let failure: NodeJS.ErrnoException | null = null;
  const onError = (err: NodeJS.ErrnoException) => {
    failure ??= err;
  };
  dest.on('error', onError);
  // Progress counts rows when they are known (the local database), else bytes (a server's stream).
  let rows = 0;
  let bytes = 0;
  let unit = 'rows';
  const progress = () => (unit === 'rows' ? `${rows} rows` : `${bytes} bytes`);
  try {
    for await (const chunk of chunks) {
      if (failure) break;
      if (chunk.rows === undefined) unit = 'bytes';
      rows += chunk.rows ?? 0;
      bytes += typeof chunk.data === 'string' ? Buffer.byteLength(chunk.data) : chunk.data.byteLength;
      if (!dest.write(chunk.data)) await Promise.race([once(dest, 'drain'), once(dest, 'close')]);
      if (tty && (chunk.rows ?? 1) > 0) process.stderr.write(`\rreelay: exported ${progress()}`);
    }
    if (partial !== undefined && !failure) {
      dest.end();
      await once(dest, 'close');
    }
  } catch (err) {
    onError(err as NodeJS.ErrnoException);
  }
  if (tty) process.stderr.write(rows > 0 || bytes > 0 ? '\n' : '');
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
    if (tty) process.stderr.write(`reelay: wrote ${progress()} to ${file}\n`);
  }
}
