import { HELP } from './help.js';
import { NothingFound, UsageError, out } from './common.js';
import { openOps } from './ops.js';

/** `reelay requests show ID`: the request-log rows of a request id or a video id, oldest first. */
export async function requestsCommand(sub: string | undefined, args: string[]): Promise<void> {
  if (sub !== 'show') throw new UsageError(HELP.requests!);
  const id = args.find((a) => !a.startsWith('--'));
  if (!id) throw new UsageError(HELP['requests show']!);
  const ops = await openOps();
  try {
    const rows = await ops.findRequests(id);
    for (const row of rows) out(row);
    if (rows.length === 0) throw new NothingFound(`no request-log rows match '${id}' (rows reach the database about once a second)`);
  } finally {
    await ops.close();
  }
}
