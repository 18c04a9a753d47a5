import type { Store } from '../db/store.js';
import type { KeyRow } from '../db/keys-store.js';
import { keyRefusal } from '../keys/service.js';
import { createKeyWithCredit } from '../keys/create.js';
import { hashKey } from '../keys/secret.js';
import { formatUsd } from '../money.js';

export interface DemoKey {
  secret: string;
  key: KeyRow;
  /** true when this start made a new key (none saved, or the saved one is no longer usable) */
  created: boolean;
  /** micro-USD credited at this start (the demo credit for a new key, else the top-up; 0 if none) */
  creditedMicros: number;
}

/**
 * The demo key: the saved one while it is still usable, else a new one. Either way its balance
 * is brought back up to `creditMicros` with a ledger credit (actor `demo`, a note saying so), so
 * every start of the demo has the full demo credit to spend. A balance above it is left alone.
 */
export async function ensureDemoKey(store: Store, savedSecret: string | undefined, creditMicros: number, now: number): Promise<DemoKey> {
  let secret = savedSecret;
  let key = secret ? await store.findKeyByHash(hashKey(secret)) : undefined;
  const created = !secret || !key || keyRefusal(key, now) !== null;
  if (created) {
    // One transaction: the key, its demo credit and the audit entry.
    const made = await createKeyWithCredit(store, { name: 'demo', creditMicros, creditNote: 'demo credit' }, { actor: 'demo', requestId: null, now });
    secret = made.secret;
    key = made.key;
  }
  const missing = creditMicros - key!.balanceMicros;
  if (missing > 0) {
    const note = created ? 'demo credit' : `demo top-up to ${formatUsd(creditMicros)} USD`;
    await store.appendCredit(key!.id, missing, note, { actor: 'demo', requestId: null, now });
  }
  return { secret: secret!, key: (await store.getKey(key!.id))!, created, creditedMicros: created ? creditMicros : Math.max(0, missing) };
}
