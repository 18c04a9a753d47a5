import { html } from 'hono/html';
import type { LedgerWithVideo } from '../../db/admin-store.js';
import { actorLabel, emptyRow, keyLink, lookupLink, type Html, type KeyNames } from './layout.js';
import { time, usd } from './format.js';

/**
 * Ledger amounts are stored positive; the kind says which way they move. The dashboard shows each
 * entry's signed effect on the key's two numbers:
 *
 * | kind       | balance | available (balance − held) |
 * | credit     | +       | +                          |
 * | adjustment | −       | −                          |
 * | hold       | 0       | −  (reserved for a job)    |
 * | release    | 0       | +  (the reservation ends)  |
 * | capture    | −       | 0  (the hold already took it from "available") |
 *
 * The same table is summed in SQL by the store's ledgerTotalsUpTo (the running balance's start).
 */
export function ledgerEffect(kind: string, amountMicros: number): { balance: number; available: number } {
  switch (kind) {
    case 'credit':
      return { balance: amountMicros, available: amountMicros };
    case 'adjustment':
      return { balance: -amountMicros, available: -amountMicros };
    case 'hold':
      return { balance: 0, available: -amountMicros };
    case 'release':
      return { balance: 0, available: amountMicros };
    case 'capture':
      return { balance: -amountMicros, available: 0 };
    default:
      return { balance: 0, available: 0 };
  }
}

/** +$1.00 / −$1.00 / an empty cell for no movement. */
export function signedUsd(micros: number): Html | string {
  if (micros === 0) return html`<span class="muted" title="no change">·</span>`;
  return html`<span class="${micros > 0 ? 'plus' : 'minus'}">${micros > 0 ? '+' : '−'}${usd(Math.abs(micros))}</span>`;
}

export interface Running {
  balance: number;
  available: number;
}

export const toRunning = (t: { balanceMicros: number; availableMicros: number }): Running => ({ balance: t.balanceMicros, available: t.availableMicros });

/**
 * The key's balance and available amount after each entry of a newest-first list, starting from
 * the totals after its newest entry (walked back by undoing each entry's effect).
 */
export function runningAfter(rows: readonly { kind: string; amountMicros: number }[], newest: Running): Running[] {
  const out: Running[] = [];
  let cur = newest;
  for (const r of rows) {
    out.push(cur);
    const e = ledgerEffect(r.kind, r.amountMicros);
    cur = { balance: cur.balance - e.balance, available: cur.available - e.available };
  }
  return out;
}

/**
 * A ledger table, newest first. `running` (one per row) adds the key's balance after each entry:
 * only meaningful when every row is of one key. `showKey` adds the key column.
 */
export function ledgerTable(id: string, rows: readonly LedgerWithVideo[], names: KeyNames, opts: { running?: Running[]; showKey: boolean; showRequest: boolean; empty?: string }): Html {
  const cols = 7 + (opts.showKey ? 1 : 0) + (opts.showRequest ? 1 : 0) + (opts.running ? 2 : 0);
  return html`<div class="table-wrap" tabindex="0"><table id="${id}"><thead><tr><th>When</th><th>Kind</th>
  <th class="num" title="effect on the balance (money the key owns)">Balance Δ</th><th class="num" title="effect on the available amount (balance − held)">Available Δ</th>
  ${opts.running ? html`<th class="num">Balance after</th><th class="num">Available after</th>` : ''}
  ${opts.showKey ? html`<th>Key</th>` : ''}<th>Job / video</th>${opts.showRequest ? html`<th>Request</th>` : ''}<th>Actor</th><th>Note</th></tr></thead><tbody>
  ${rows.length === 0
    ? emptyRow(cols, opts.empty ?? 'No entries match.')
    : rows.map((e, i) => {
        const fx = ledgerEffect(e.kind, e.amountMicros);
        const run = opts.running?.[i];
        return html`<tr data-kind="${e.kind}"><td>${time(e.createdAt)}</td><td><span class="kind" title="${usd(e.amountMicros)} ${e.kind}">${e.kind}</span></td>
      <td class="num" data-balance-delta="${fx.balance}">${signedUsd(fx.balance)}</td><td class="num" data-available-delta="${fx.available}">${signedUsd(fx.available)}</td>
      ${run ? html`<td class="num" data-balance-after="${run.balance}">${usd(run.balance)}</td><td class="num" data-available-after="${run.available}">${usd(run.available)}</td>` : ''}
      ${opts.showKey ? html`<td>${keyLink(e.keyId, names)}</td>` : ''}<td>${lookupLink(e.videoId ?? e.jobId)}</td>${opts.showRequest ? html`<td>${lookupLink(e.requestId)}</td>` : ''}
      <td>${actorLabel(e.actor, names)}</td><td class="wrap">${e.note ?? ''}</td></tr>`;
      })}
  </tbody></table></div>`;
}

export const LEDGER_SIGNS_NOTE =
  'Each entry is shown by what it does to the key: “Balance Δ” is the money the key owns (credits add; adjustments and captures take), “Available Δ” what it can still spend (a hold reserves money for a job, a release returns it; a capture changes nothing here because its hold already took it).';
