import { z } from 'zod';
import { parseUsd } from '../money.js';

/**
 * The price catalog (pure). Rates are integer micro-USD per generated second, or a flat
 * micro-USD price per request. A model that is not in the catalog is never billed (and never
 * forwarded): reelay does not bill $0 by accident.
 */
export interface ModelPrice {
  readonly seconds: readonly number[];
  readonly defaultSeconds: number;
  readonly defaultSize: string;
  /** size → micro-USD per second; null for flat-priced models. */
  readonly perSecondMicros: Readonly<Record<string, number>> | null;
  /** Flat micro-USD per request; null for per-second models. */
  readonly flatMicros: number | null;
  /** Sizes a flat-priced model accepts (per-second models accept the keys of perSecondMicros). */
  readonly flatSizes: readonly string[] | null;
  /** Allowed `seconds` of an extension segment. */
  readonly extensionSeconds: readonly number[];
}

export type Catalog = ReadonlyMap<string, ModelPrice>;

const SORA_SECONDS = [4, 8, 12];
const EXTENSION_SECONDS = [4, 8, 12, 16, 20];

function perSecond(rates: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(rates).map(([size, usd]) => [size, parseUsd(usd)]));
}

export const DEFAULT_CATALOG: Catalog = new Map<string, ModelPrice>([
  [
    'sora-2',
    {
      seconds: SORA_SECONDS,
      defaultSeconds: 4,
      defaultSize: '720x1280',
      perSecondMicros: perSecond({ '720x1280': '0.10', '1280x720': '0.10' }),
      flatMicros: null,
      flatSizes: null,
      extensionSeconds: EXTENSION_SECONDS,
    },
  ],
  [
    'sora-2-pro',
    {
      seconds: SORA_SECONDS,
      defaultSeconds: 4,
      defaultSize: '720x1280',
      perSecondMicros: perSecond({
        '720x1280': '0.30',
        '1280x720': '0.30',
        '1024x1792': '0.50',
        '1792x1024': '0.50',
        '1080x1920': '0.70',
        '1920x1080': '0.70',
      }),
      flatMicros: null,
      flatSizes: null,
      extensionSeconds: EXTENSION_SECONDS,
    },
  ],
]);

const SNAPSHOT_SUFFIX = /^(.+)-\d{4}-\d{2}-\d{2}$/;

/** The catalog name that prices `model`: itself, or the alias of a dated snapshot. */
export function priceModelName(catalog: Catalog, model: string): string | undefined {
  if (catalog.has(model)) return model;
  const m = SNAPSHOT_SUFFIX.exec(model);
  if (m && catalog.has(m[1]!)) return m[1]!;
  return undefined;
}

export function sizesOf(price: ModelPrice): string[] {
  return price.perSecondMicros ? Object.keys(price.perSecondMicros) : [...(price.flatSizes ?? [])];
}

export type PriceError =
  | { code: 'model_not_priced'; message: string; param: 'model' }
  | { code: 'invalid_request'; message: string; param: string };

export interface PriceQuote {
  /** The model as requested (snapshots keep their dated name). */
  model: string;
  seconds: number;
  size: string;
  /** micro-USD per second (0 for flat-priced models). */
  rateMicros: number;
  flatMicros: number | null;
  /** What is held: seconds × rate, or the flat price. */
  priceMicros: number;
}

/** Parses a `seconds` value as clients send it ("8" or 8); anything else is undefined. */
export function parseSeconds(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\d{1,6}$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Prices a request before it is forwarded. `seconds`/`size` are the raw request values (undefined
 * when omitted → the model's defaults). `secondsAllowed` overrides the allowed list (extensions).
 */
export function quote(
  catalog: Catalog,
  req: { model: string; seconds?: unknown; size?: unknown },
  options: { extension?: boolean } = {},
): PriceQuote | PriceError {
  const name = priceModelName(catalog, req.model);
  const shown = req.model.length > 100 ? `${req.model.slice(0, 100)}…` : req.model;
  if (!name) {
    return { code: 'model_not_priced', param: 'model', message: `The model '${shown}' has no price in this gateway's catalog.` };
  }
  const price = catalog.get(name)!;
  const allowedSeconds = options.extension ? price.extensionSeconds : price.seconds;
  let seconds = price.defaultSeconds;
  if (req.seconds !== undefined) {
    const parsed = parseSeconds(req.seconds);
    if (parsed === undefined || !allowedSeconds.includes(parsed)) {
      return {
        code: 'invalid_request',
        param: 'seconds',
        message: `Invalid 'seconds' for model '${shown}': allowed values are ${allowedSeconds.map((s) => `'${s}'`).join(', ')}.`,
      };
    }
    seconds = parsed;
  }
  const sizes = sizesOf(price);
  let size = price.defaultSize;
  if (req.size !== undefined) {
    if (typeof req.size !== 'string' || !sizes.includes(req.size)) {
      return {
        code: 'invalid_request',
        param: 'size',
        message: `Invalid 'size' for model '${shown}': allowed values are ${sizes.map((s) => `'${s}'`).join(', ')}.`,
      };
    }
    size = req.size;
  }
  if (price.flatMicros !== null) {
    return { model: req.model, seconds, size, rateMicros: 0, flatMicros: price.flatMicros, priceMicros: price.flatMicros };
  }
  const rateMicros = price.perSecondMicros![size]!;
  return { model: req.model, seconds, size, rateMicros, flatMicros: null, priceMicros: seconds * rateMicros };
}

/** The longest `seconds` a model allows at create (dated snapshots as their alias); undefined if unpriced. */
export function maxSecondsOf(catalog: Catalog, model: string): number | undefined {
  const name = priceModelName(catalog, model);
  const price = name === undefined ? undefined : catalog.get(name);
  return price ? Math.max(...price.seconds) : undefined;
}

export function isPriceError(q: PriceQuote | PriceError): q is PriceError {
  return 'code' in q;
}

/**
 * A lower bound of what any billable call may cost for a key allowed `allowedModels` (null: every
 * model): the cheapest flat price, or the cheapest per-second rate for one second (a remix of a
 * one-second video). 0 when a free model exists or no allowed model is priced (the request will be
 * refused for its model, not its balance).
 */
export function cheapestPriceMicros(catalog: Catalog, allowedModels: readonly string[] | null): number {
  const names = allowedModels === null ? [...catalog.keys()] : allowedModels.map((m) => priceModelName(catalog, m)).filter((m) => m !== undefined);
  let cheapest = Infinity;
  for (const name of names) {
    const price = catalog.get(name)!;
    const micros = price.flatMicros ?? Math.min(...Object.values(price.perSecondMicros ?? {}));
    cheapest = Math.min(cheapest, micros);
  }
  return Number.isFinite(cheapest) ? cheapest : 0;
}

/** What a completed job costs: min(hold, billed seconds × the snapshotted rate), or the flat price. */
export function chargeFor(job: { heldMicros: number; rateMicros: number; flatPriceMicros: number | null }, billedSeconds: number): number {
  const full = job.flatPriceMicros !== null ? job.flatPriceMicros : billedSeconds * job.rateMicros;
  return Math.max(0, Math.min(job.heldMicros, full));
}

// ---------------------------------------------------------------------------------------------
// PRICING_FILE

const usd = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    const micros = parseUsd(v);
    if (micros < 0) throw new Error('negative');
    return micros;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a non-negative USD amount with at most 6 decimals, e.g. "0.10"' });
    return z.NEVER;
  }
});
const secondsValue = z.union([z.string().regex(/^\d{1,6}$/), z.number().int()]).transform(Number).pipe(z.number().int().positive());

const modelEntry = z
  .object({
    seconds: z.array(secondsValue).min(1),
    default_seconds: secondsValue,
    default_size: z.string().min(1),
    per_second_usd: z.record(z.string().min(1), usd).optional(),
    per_request_usd: usd.optional(),
    sizes: z.array(z.string().min(1)).min(1).optional(),
    extension_seconds: z.array(secondsValue).min(1).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const hasRates = m.per_second_usd !== undefined;
    const hasFlat = m.per_request_usd !== undefined;
    if (hasRates === hasFlat) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of per_second_usd or per_request_usd' });
      return;
    }
    if (!m.seconds.includes(m.default_seconds)) ctx.addIssue({ code: 'custom', path: ['default_seconds'], message: 'must be one of seconds' });
    const sizes = hasRates ? Object.keys(m.per_second_usd!) : (m.sizes ?? []);
    if (sizes.length === 0) ctx.addIssue({ code: 'custom', path: ['sizes'], message: 'a per-request model needs its allowed sizes' });
    if (!sizes.includes(m.default_size)) ctx.addIssue({ code: 'custom', path: ['default_size'], message: 'must be one of the priced sizes' });
  });

export const pricingFileSchema = z.object({ models: z.record(z.string().min(1), modelEntry) }).strict();

/** Merges a parsed PRICING_FILE over the defaults: each model it names replaces the built-in entry. */
export function buildCatalog(file: unknown, base: Catalog = DEFAULT_CATALOG): Catalog {
  const parsed = pricingFileSchema.safeParse(file);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`PRICING_FILE is invalid:\n  ${lines.join('\n  ')}`);
  }
  const merged = new Map(base);
  for (const [name, m] of Object.entries(parsed.data.models)) {
    merged.set(name, {
      seconds: m.seconds,
      defaultSeconds: m.default_seconds,
      defaultSize: m.default_size,
      perSecondMicros: m.per_second_usd ?? null,
      flatMicros: m.per_request_usd ?? null,
      flatSizes: m.per_request_usd !== undefined ? (m.sizes ?? null) : null,
      extensionSeconds: m.extension_seconds ?? EXTENSION_SECONDS,
    });
  }
  return merged;
}
