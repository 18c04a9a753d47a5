import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { UploadBudget } from '../../src/http/upload-budget.js';
import { buildCatalog, cheapestPriceMicros, DEFAULT_CATALOG } from '../../src/billing/catalog.js';

describe('upload limits in the configuration', () => {
  it('defaults: linger up to 5 s and 64 MiB, 256 MiB of buffered uploads', () => {
    expect(loadConfig({})).toMatchObject({ linger: { timeoutMs: 5000, maxBytes: 64 * 1024 * 1024 }, maxBufferedUploadBytes: 256 * 1024 * 1024 });
    expect(loadConfig({ LINGER_TIMEOUT_MS: '250', LINGER_MAX_BYTES: '1000', MAX_BUFFERED_UPLOAD_BYTES: String(128 * 1024 * 1024) })).toMatchObject({
      linger: { timeoutMs: 250, maxBytes: 1000 },
      maxBufferedUploadBytes: 128 * 1024 * 1024,
    });
  });

  it.each([
    [{ LINGER_TIMEOUT_MS: '0' }, 'LINGER_TIMEOUT_MS must be positive'],
    [{ LINGER_TIMEOUT_MS: 'soon' }, 'LINGER_TIMEOUT_MS must be a number'],
    [{ LINGER_MAX_BYTES: '1.5' }, 'LINGER_MAX_BYTES must be a whole number'],
    [{ MAX_BUFFERED_UPLOAD_BYTES: '-1' }, 'MAX_BUFFERED_UPLOAD_BYTES must be positive'],
    // Smaller than one upload of the largest allowed size: every such upload would be refused.
    [{ MAX_BUFFERED_UPLOAD_BYTES: String(32 * 1024 * 1024) }, 'MAX_BUFFERED_UPLOAD_BYTES must be at least MAX_MULTIPART_BYTES'],
    [{ MAX_MULTIPART_BYTES: '1000', MAX_BUFFERED_UPLOAD_BYTES: '2000' }, 'at least 1 MiB'],
  ])('stops on %j with a message naming the variable', (env, fragment) => {
    expect(() => loadConfig(env)).toThrow(fragment);
  });
});

describe('UploadBudget', () => {
  it('reserves while the bytes fit, refuses without reserving when they do not, and gives back', () => {
    const b = new UploadBudget(100);
    expect(b.tryReserve(60)).toBe(true);
    expect(b.tryReserve(41)).toBe(false);
    expect(b.inUse).toBe(60);
    expect(b.tryReserve(40)).toBe(true);
    b.release(60);
    expect(b.inUse).toBe(40);
    expect(b.tryReserve(60)).toBe(true);
    b.release(100);
    expect(b.inUse).toBe(0);
  });
});

describe('cheapestPriceMicros: a lower bound of any billable call for a key', () => {
  it('is one second at the cheapest rate of the models the key may use', () => {
    expect(cheapestPriceMicros(DEFAULT_CATALOG, null)).toBe(100_000); // sora-2 at 0.10/s
    expect(cheapestPriceMicros(DEFAULT_CATALOG, ['sora-2-pro'])).toBe(300_000);
    // A dated snapshot is priced as its model.
    expect(cheapestPriceMicros(DEFAULT_CATALOG, ['sora-2-pro-2025-10-06'])).toBe(300_000);
  });

  it('counts flat prices, and is 0 with a free model or when no allowed model is priced (refused for the model, not the balance)', () => {
    const catalog = buildCatalog({
      models: {
        flat: { seconds: [4], default_seconds: 4, default_size: '720x1280', per_request_usd: '0.05', sizes: ['720x1280'] },
        free: { seconds: [4], default_seconds: 4, default_size: '720x1280', per_request_usd: '0', sizes: ['720x1280'] },
      },
    });
    expect(cheapestPriceMicros(catalog, ['flat', 'sora-2'])).toBe(50_000);
    expect(cheapestPriceMicros(catalog, null)).toBe(0);
    expect(cheapestPriceMicros(catalog, ['not-priced'])).toBe(0);
  });
});
