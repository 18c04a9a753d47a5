/** Lookups by an id that an admin pastes in must not scan whole tables as they grow. */
import { describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../src/db/client.js';

const plan = (sql: string) => {
  const database = openMigratedDatabase(':memory:');
  try {
    const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, (_, i) => `id_${i}`);
    return (database.sqlite.prepare(`explain query plan ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');
  } finally {
    database.close();
  }
};

describe('indexes behind id lookups (migrations as shipped)', () => {
  it('finds a job by its create request id, reelay\'s or the upstream\'s, through indexes', () => {
    const p = plan('select * from jobs where request_id = ? or upstream_request_id = ? limit 1');
    expect(p).toContain('USING INDEX jobs_request_id_idx');
    expect(p).toContain('USING INDEX jobs_upstream_request_id_idx');
    expect(p).not.toMatch(/SCAN jobs/);
  });

  it('finds request-log rows by any of the three request ids through indexes', () => {
    const p = plan('select * from request_log where request_id = ? or client_request_id = ? or upstream_request_id = ?');
    expect(p).not.toMatch(/SCAN request_log/);
    for (const idx of ['request_log_request_id_idx', 'request_log_client_id_idx', 'request_log_upstream_id_idx']) expect(p).toContain(idx);
  });
  it('finds the oldest request-log rows for the retention pruner through the created_at index', () => {
    const p = plan('delete from request_log where seq in (select seq from request_log where created_at < ? order by created_at limit ?)');
    expect(p).toContain('request_log_created_idx');
    expect(p).not.toMatch(/SCAN request_log|TEMP B-TREE/);
  });
});
