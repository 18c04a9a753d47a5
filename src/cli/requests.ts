import { presentRequest } from '../admin/present.js';
import { HELP } from './help.js';
import { UsageError, openStore, out } from './common.js';

export class NothingFound extends Error {}

/** `reelay requests show ID`: the request-log rows of a request id or a video id, oldest first. */
export async function requestsCommand(sub: string | undefined, args: string[]): Promise<void> {
  if (sub !== 'show') throw new UsageError(HELP.requests!);
  const id = args.find((a) => !a.startsWith('--'));
  if (!id) throw new UsageError(HELP['requests show']!);
  const { store, close } = openStore();
  try {
    let afterSeq: number | undefined;
    let found = 0;
    for (;;) {
      const page = store.findRequestsByAnyId(id, { afterSeq, limit: 500 });
      for (const row of page) out(presentRequest(row));
      found += page.length;
      if (page.length < 500) break;
      afterSeq = page[page.length - 1]!.seq;
    }
    if (found === 0) throw new NothingFound(`no request-log rows match '${id}' (rows reach the database about once a second)`);
  } finally {
    close();
  }
}
