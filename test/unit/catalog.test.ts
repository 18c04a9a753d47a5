import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG, buildCatalog, chargeFor, quote, isPriceError, priceModelName } from '../../src/billing/catalog.js';
import { parseUsd } from '../../src/money.js';

const CONTRACT_RATES: Array<[string, string[], string]> = [
  ['sora-2', ['720x1280', '1280x720'], '0.10'],
  ['sora-2-pro', ['720x1280', '1280x720'], '0.30'],
  ['sora-2-pro', ['1024x1792', '1792x1024'], '0.50'],
  ['sora-2-pro', ['1080x1920', '1920x1080'], '0.70'],
];

describe('price catalog', () => {
  it('prices every default model, size and seconds value at seconds × rate', () => {
    let rows = 0;
    for (const [model, sizes, rate] of CONTRACT_RATES) {
      for (const size of sizes) {
        for (const seconds of ['4', '8', '12']) {
          const q = quote(DEFAULT_CATALOG, { model, size, seconds });
          if (isPriceError(q)) throw new Error(q.message);
          expect(q.priceMicros).toBe(Number(seconds) * parseUsd(rate));
          rows++;
        }
      }
    }
    expect(rows).toBe(24);
    const q = quote(DEFAULT_CATALOG, { model: 'sora-2-pro', size: '1920x1080', seconds: '12' });
    expect(!isPriceError(q) && q.priceMicros).toBe(8_400_000);
  });

  it('uses the model defaults when seconds and size are omitted', () => {
    const q = quote(DEFAULT_CATALOG, { model: 'sora-2' });
    expect(q).toMatchObject({ seconds: 4, size: '720x1280', priceMicros: 400_000 });
  });

  it('prices dated snapshots as their alias and refuses unknown models', () => {
    expect(priceModelName(DEFAULT_CATALOG, 'sora-2-2025-12-08')).toBe('sora-2');
    expect(priceModelName(DEFAULT_CATALOG, 'sora-2-pro-2025-10-06')).toBe('sora-2-pro');
    expect(quote(DEFAULT_CATALOG, { model: 'sora-3' })).toMatchObject({ code: 'model_not_priced', param: 'model' });
    const long = quote(DEFAULT_CATALOG, { model: 'm'.repeat(100_000) });
    expect(isPriceError(long) && long.message.length).toBeLessThan(200);
  });

  it.each([
    [{ seconds: '5' }, 'seconds'],
    [{ seconds: -4 }, 'seconds'],
    [{ seconds: Number.NaN }, 'seconds'],
    [{ seconds: '1e3' }, 'seconds'],
    [{ seconds: '99999999999' }, 'seconds'],
    [{ size: '1920x1080' }, 'size'],
    [{ size: 720 }, 'size'],
  ])('rejects %j for sora-2 naming %s, never rewriting it', (extra, param) => {
    expect(quote(DEFAULT_CATALOG, { model: 'sora-2', ...extra })).toMatchObject({ code: 'invalid_request', param });
  });

  it('charges min(hold, billed seconds × rate) on completion', () => {
    const job = { heldMicros: 800_000, rateMicros: 100_000, flatPriceMicros: null };
    expect(chargeFor(job, 8)).toBe(800_000);
    expect(chargeFor(job, 4)).toBe(400_000);
    expect(chargeFor(job, 12)).toBe(800_000);
    expect(chargeFor({ heldMicros: 500_000, rateMicros: 0, flatPriceMicros: 500_000 }, 12)).toBe(500_000);
  });

  it('merges a pricing file: new flat-priced models and replaced entries', () => {
    const catalog = buildCatalog({
      models: {
        'veo-lite': { seconds: ['6'], default_seconds: '6', default_size: '1280x720', sizes: ['1280x720'], per_request_usd: '0.25' },
        'sora-2': { seconds: [4, 8], default_seconds: 4, default_size: '1280x720', per_second_usd: { '1280x720': '0.08' } },
      },
    });
    expect(quote(catalog, { model: 'veo-lite' })).toMatchObject({ priceMicros: 250_000, flatMicros: 250_000, seconds: 6 });
    expect(quote(catalog, { model: 'sora-2', seconds: '8' })).toMatchObject({ priceMicros: 640_000, size: '1280x720' });
    expect(quote(catalog, { model: 'sora-2', seconds: '12' })).toMatchObject({ code: 'invalid_request', param: 'seconds' });
    expect(quote(catalog, { model: 'sora-2-pro', seconds: '4' })).toMatchObject({ priceMicros: 1_200_000 });
  });

  it.each([
    [{ models: { x: { seconds: ['4'], default_seconds: '4', default_size: 'a' } } }, 'exactly one of'],
    [{ models: { x: { seconds: ['4'], default_seconds: '8', default_size: 'a', per_second_usd: { a: '0.1' } } } }, 'default_seconds'],
    [{ models: { x: { seconds: ['4'], default_seconds: '4', default_size: 'b', per_second_usd: { a: '0.1' } } } }, 'default_size'],
    [{ models: { x: { seconds: ['4'], default_seconds: '4', default_size: 'a', per_second_usd: { a: '-1' } } } }, 'non-negative'],
    [{ models: { x: { seconds: ['4'], default_seconds: '4', default_size: 'a', per_second_usd: { a: '0.1' }, bogus: 1 } } }, 'bogus'],
    [{ model: {} }, 'model'],
  ])('refuses an invalid pricing file (%#) with a message naming the problem', (file, fragment) => {
    expect(() => buildCatalog(file)).toThrow(fragment);
  });
});
