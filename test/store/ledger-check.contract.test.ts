import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engines, type OpenStore } from '../helpers/engines.js';
import { seed } from './report-dataset.js';

/**
 * ReportsStore.ledgerViolations on both engines: the consistent fixture has none; each kind of
 * corruption, written with raw SQL under the store, is reported with the same message on both.
 */

describe.each(engines)('$name: ledgerViolations', (engine) => {
  let o: OpenStore;
  beforeEach(async () => {
    o = await engine.open();
    await seed(o);
  });
  afterEach(() => o.close());

  /** Lets a key hold more than its balance, or a balance go negative (the schema refuses both). */
  async function dropBalanceChecks() {
    if (engine.name === 'sqlite') await o.sql('pragma ignore_check_constraints = on');
    else await o.sql('alter table api_keys drop constraint api_keys_balance_covers_holds');
  }

  it('none on a consistent ledger', async () => {
    expect(await o.store.ledgerViolations()).toEqual([]);
  });

  it('a key balance that is not credits − adjustments − captures', async () => {
    await o.sql("update api_keys set balance_micros = balance_micros + 5 where id = 'key_B'");
    expect(await o.store.ledgerViolations()).toEqual(['key key_B: balance 2000005 but ledger says 2000000']);
  });

  it('a key held amount that is not holds − captures − releases', async () => {
    await o.sql("update api_keys set held_micros = held_micros + 1 where id = 'key_a'");
    expect(await o.store.ledgerViolations()).toEqual(['key key_a: held 500001 but ledger says 500000']);
  });

  it('a negative available amount, a negative balance', async () => {
    await dropBalanceChecks();
    await o.sql("update api_keys set held_micros = 400 where id = 'key_d'");
    await o.sql("update api_keys set balance_micros = -1 where id = 'key_x'");
    // Keys in id order (byte order), then jobs.
    expect(await o.store.ledgerViolations()).toEqual([
      'key key_d: held 400 but ledger says 0',
      'key key_d: available is negative',
      'key key_x: balance -1 but ledger says 7',
      'key key_x: available is negative',
      'key key_x: balance is negative',
    ]);
  });

  it('a job whose hold entries differ from its held amount, and a settled job whose hold is not resolved', async () => {
    await o.sql("update jobs set held_micros = 999 where id = 'job_x1'");
    expect(await o.store.ledgerViolations()).toEqual([
      'job job_x1: hold entries 0 ≠ held 999',
      'job job_x1: unknown but hold not fully resolved',
      'job job_x1: unknown without exactly one terminal entry',
    ]);
  });

  it('an open job settled in the ledger; a settled job left without its settlement', async () => {
    // job_Z2's terminal release moves to the open job_a3 (the key's sums do not change).
    await o.sql("update ledger set job_id = 'job_a3' where id = 'led_09'");
    expect(await o.store.ledgerViolations()).toEqual([
      'job job_Z2: failed but hold not fully resolved',
      'job job_Z2: failed without exactly one terminal entry',
      'job job_a3: open but settled in the ledger',
    ]);
  });

  it('more than one terminal entry for a job', async () => {
    // The partial unique index refuses a second settlement; drop it to write the corruption.
    await o.sql('drop index ledger_one_settlement_per_job');
    await o.sql("update ledger set terminal = true where id = 'led_14'");
    expect(await o.store.ledgerViolations()).toEqual([
      'job job_b1: 2 terminal entries',
      'job job_b1: completed without exactly one terminal entry',
    ]);
  });

  it('a charged amount that is not the captures; a job charged without completing', async () => {
    await o.sql("update jobs set charged_micros = 1 where id = 'job_a4'");
    await o.sql("update jobs set status = 'failed' where id = 'job_a1'");
    expect(await o.store.ledgerViolations()).toEqual([
      'job job_a1: failed but charged',
      'job job_a4: charged 1 ≠ captures 700000',
    ]);
  });
});
