import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engines, type OpenStore } from '../helpers/engines.js';
import { openDatabase, openMigratedDatabase } from '../../src/db/client.js';
import { createStore } from '../../src/db/store.js';
import type { AdminSessionRow } from '../../src/store/rows.js';
import { SharedStatePruner } from '../../src/store/shared-state-pruner.js';
import { silentLogger } from '../../src/logging/logger.js';

/** The shared-state units (dashboard sessions, the login throttle, rpm windows), the same on both engines. */

/** A minute boundary, so that offsets into the bucket are easy to read. */
const T0 = 28_333_334 * 60_000;
const MINUTE = 60_000;

const session = (id: string, createdAt: number, ttl = 3_600_000): AdminSessionRow => ({
  id,
  csrf: `csrf-${id}`,
  createdAt,
  expiresAt: createdAt + ttl,
  flash: '[]',
  revealOnce: null,
});

describe.each(engines)('shared state on $name', (engine) => {
  let s: OpenStore;
  beforeAll(async () => {
    s = await engine.open();
  });
  afterAll(async () => {
    await s.close();
  });

  describe('dashboard sessions', () => {
    it('creates, reads until expiry, updates flash and reveal-once, and deletes', async () => {
      const { store } = s;
      await store.createAdminSession(session('sess-a', T0), 100, T0);
      expect(await store.getAdminSession('sess-a', T0 + 1)).toEqual(session('sess-a', T0));
      expect(await store.getAdminSession('nope', T0)).toBeUndefined();

      await store.updateAdminSession('sess-a', { flash: '[{"kind":"ok","text":"hi"}]' });
      expect(await store.getAdminSession('sess-a', T0)).toMatchObject({ flash: '[{"kind":"ok","text":"hi"}]', revealOnce: null });
      await store.updateAdminSession('sess-a', { revealOnce: 'v1.sealed' });
      expect(await store.getAdminSession('sess-a', T0)).toMatchObject({ flash: '[{"kind":"ok","text":"hi"}]', revealOnce: 'v1.sealed' });
      await store.updateAdminSession('sess-a', { flash: '[]', revealOnce: null });
      expect(await store.getAdminSession('sess-a', T0)).toMatchObject({ flash: '[]', revealOnce: null, csrf: 'csrf-sess-a' });

      // Expired at expiresAt exactly.
      expect(await store.getAdminSession('sess-a', T0 + 3_600_000 - 1)).toBeDefined();
      expect(await store.getAdminSession('sess-a', T0 + 3_600_000)).toBeUndefined();

      await store.deleteAdminSession('sess-a');
      expect(await store.getAdminSession('sess-a', T0)).toBeUndefined();
    });

    it('drops expired sessions and, beyond the maximum, the oldest ones when a session is created', async () => {
      const { store, sql } = s;
      await sql('delete from admin_sessions');
      await store.createAdminSession(session('old-expired', T0, 1000), 3, T0);
      await store.createAdminSession(session('s1', T0 + 1), 3, T0 + 1);
      await store.createAdminSession(session('s2', T0 + 2), 3, T0 + 2);
      // At T0 + 1000 the first has expired: it goes, and the new one fits under the maximum.
      await store.createAdminSession(session('s3', T0 + 3), 3, T0 + 1000);
      expect((await sql('select id from admin_sessions order by id')).map((r) => r.id)).toEqual(['s1', 's2', 's3']);
      // Full: the oldest (s1) makes room.
      await store.createAdminSession(session('s4', T0 + 4), 3, T0 + 1000);
      expect((await sql('select id from admin_sessions order by id')).map((r) => r.id)).toEqual(['s2', 's3', 's4']);
    });

    it('purges expired sessions only', async () => {
      const { store, sql } = s;
      await sql('delete from admin_sessions');
      await store.createAdminSession(session('short', T0, 1000), 100, T0);
      await store.createAdminSession(session('long', T0, 10_000), 100, T0);
      expect(await store.purgeAdminSessions(T0 + 999)).toBe(0);
      expect(await store.purgeAdminSessions(T0 + 1000)).toBe(1);
      expect((await sql('select id from admin_sessions')).map((r) => r.id)).toEqual(['long']);
    });
  });

  describe('admin login throttle', () => {
    it('returns an address\'s failures after `since`, newest first, at most `limit`, and purges old ones', async () => {
      const { store } = s;
      for (let i = 0; i < 12; i++) await store.recordAuthFailure('198.51.100.1', T0 + i * 1000);
      await store.recordAuthFailure('198.51.100.2', T0 + 5000);

      const recent = await store.recentAuthFailures('198.51.100.1', T0 - 1, 10);
      expect(recent).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (11 - i) * 1000));
      // `since` is exclusive.
      expect(await store.recentAuthFailures('198.51.100.1', T0 + 9000, 10)).toEqual([T0 + 11_000, T0 + 10_000]);
      expect(await store.recentAuthFailures('198.51.100.2', T0, 10)).toEqual([T0 + 5000]);
      expect(await store.recentAuthFailures('198.51.100.3', T0, 10)).toEqual([]);

      // Inclusive bound: failures at or before `before` go.
      expect(await store.purgeAuthFailures(T0 + 5000)).toBe(7);
      expect(await store.recentAuthFailures('198.51.100.1', 0, 100)).toHaveLength(6);
      expect(await store.recentAuthFailures('198.51.100.2', 0, 100)).toEqual([]);
    });
  });

  describe('requests per minute', () => {
    const countOf = async (keyId: string, start: number) =>
      Number((await s.sql('select count from rate_windows where key_id = ? and window_start = ?', [keyId, start]))[0]?.count ?? 0);

    it('allows the limit within a minute, counts only allowed requests, and answers the seconds left in the minute', async () => {
      const { store } = s;
      for (let i = 0; i < 3; i++) expect(await store.takeRateSlot('key_a', 3, T0 + 10_000)).toBe(0);
      expect(await store.takeRateSlot('key_a', 3, T0 + 10_000)).toBe(50);
      expect(await store.takeRateSlot('key_a', 3, T0 + 59_500)).toBe(1);
      expect(await countOf('key_a', T0)).toBe(3);
      // Other keys have their own count.
      expect(await store.takeRateSlot('key_b', 3, T0 + 10_000)).toBe(0);
    });

    it('weights the previous minute by how much of it the sliding window still covers', async () => {
      const { store } = s;
      // key_a used its 3 in [T0, T0+60s). At T0+60s the previous bucket counts whole: refused.
      expect(await store.takeRateSlot('key_a', 3, T0 + MINUTE)).toBe(60);
      // Half-way through the next minute, 3 × 0.5 = 1.5: one more fits (2.5 ≤ 3), not two (3.5).
      expect(await store.takeRateSlot('key_a', 3, T0 + MINUTE + 30_000)).toBe(0);
      expect(await store.takeRateSlot('key_a', 3, T0 + MINUTE + 30_000)).toBe(30);
      expect(await countOf('key_a', T0 + MINUTE)).toBe(1);
      // Two minutes on, the old buckets no longer count.
      for (let i = 0; i < 3; i++) expect(await store.takeRateSlot('key_a', 3, T0 + 3 * MINUTE)).toBe(0);
      expect(await store.takeRateSlot('key_a', 3, T0 + 3 * MINUTE)).toBeGreaterThan(0);
    });

    it('lets exactly the limit through when 50 requests arrive at once', async () => {
      const { store } = s;
      const now = T0 + 10 * MINUTE + 5000;
      const results = await Promise.all(Array.from({ length: 50 }, () => store.takeRateSlot('key_burst', 10, now)));
      expect(results.filter((r) => r === 0)).toHaveLength(10);
      expect(results.filter((r) => r === 55)).toHaveLength(40);
      expect(await countOf('key_burst', T0 + 10 * MINUTE)).toBe(10);
    });

    it('handles large limits without overflowing (counts × 60,000 exceed 32 bits)', async () => {
      const { store, sql } = s;
      const start = T0 + 20 * MINUTE;
      await sql('insert into rate_windows (key_id, window_start, count) values (?, ?, ?)', ['key_big', start - MINUTE, 90_000]);
      await sql('insert into rate_windows (key_id, window_start, count) values (?, ?, ?)', ['key_big', start, 50_000]);
      // 90,000 × 0.5 + 50,000 + 1 ≤ 100,000.
      expect(await store.takeRateSlot('key_big', 100_000, start + 30_000)).toBe(0);
      // 90,000 × 0.5 + 50,001 + 1 > 95,000.
      expect(await store.takeRateSlot('key_big', 95_000, start + 30_000)).toBe(30);
    });

    it('purges windows that started before the given time', async () => {
      const { store, sql } = s;
      const before = Number((await sql('select count(*) as n from rate_windows'))[0]!.n);
      const gone = await store.purgeRateWindows(T0 + 3 * MINUTE);
      expect(gone).toBeGreaterThan(0);
      const left = await sql('select window_start from rate_windows');
      expect(left.length).toBe(before - gone);
      expect(left.every((r) => Number(r.window_start) >= T0 + 3 * MINUTE)).toBe(true);
    });
  });
  describe('the background pruner', () => {
    it('deletes expired sessions, failures past the throttle window and windows before the previous minute, and nothing else', async () => {
      const { store, sql } = s;
      await sql('delete from admin_sessions');
      await sql('delete from auth_failures');
      await sql('delete from rate_windows');
      const now = T0 + 100 * MINUTE + 30_000;
      await store.createAdminSession(session('expired', now - 10_000, 5_000), 100, now - 10_000);
      await store.createAdminSession(session('live', now - 10_000), 100, now - 10_000);
      await store.recordAuthFailure('192.0.2.1', now - 60_000);
      await store.recordAuthFailure('192.0.2.1', now - 59_999);
      await store.takeRateSlot('key_p', 10, now - 2 * MINUTE);
      await store.takeRateSlot('key_p', 10, now - MINUTE);
      await store.takeRateSlot('key_p', 10, now);
      const pruner = new SharedStatePruner({ store, logger: silentLogger(), now: () => now, authFailureWindowMs: 60_000 });
      expect(await pruner.prune()).toEqual({ sessions: 1, authFailures: 1, rateWindows: 1 });
      expect((await sql('select id from admin_sessions')).map((r) => r.id)).toEqual(['live']);
      expect(await store.recentAuthFailures('192.0.2.1', 0, 10)).toEqual([now - 59_999]);
      expect((await sql('select window_start from rate_windows order by window_start')).map((r) => Number(r.window_start))).toEqual([
        T0 + 99 * MINUTE,
        T0 + 100 * MINUTE,
      ]);
    });
  });
});

describe('several SQLite connections on one file (as several processes)', () => {
  it('share one rpm count, one throttle and one set of sessions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reelay-shared-'));
    const path = join(dir, 'reelay.db');
    const first = openMigratedDatabase(path);
    const second = openDatabase(path);
    try {
      const a = createStore(first);
      const b = createStore(second);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).takeRateSlot('key_x', 10, T0)));
      expect(results.filter((r) => r === 0)).toHaveLength(10);
      expect(await a.takeRateSlot('key_x', 10, T0)).toBe(60);
      expect(await b.takeRateSlot('key_x', 10, T0)).toBe(60);

      await a.recordAuthFailure('203.0.113.9', T0);
      await b.recordAuthFailure('203.0.113.9', T0 + 1);
      expect(await a.recentAuthFailures('203.0.113.9', 0, 10)).toEqual([T0 + 1, T0]);

      await a.createAdminSession(session('shared', T0), 10, T0);
      expect(await b.getAdminSession('shared', T0)).toMatchObject({ csrf: 'csrf-shared' });
      await b.deleteAdminSession('shared');
      expect(await a.getAdminSession('shared', T0)).toBeUndefined();
    } finally {
      second.close();
      first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
