import { z } from 'zod';
import type { Context } from 'hono';
import type { AppEnv } from '../http/context.js';
import { readBody, JSON_LIMIT_BYTES } from '../http/body.js';
import { invalid } from '../errors.js';
import { parseUsd } from '../money.js';

/** Shared zod pieces and parsing helpers of the admin API: a bad field is a 400 that names it. */
export const usdAmount = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    try {
      return parseUsd(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  })
  .meta({ description: 'USD as a decimal string with at most 6 decimals, e.g. "10.00" (a JSON number is accepted too)' });

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses an ISO 8601 date (`2026-11-01`, midnight UTC) or timestamp (`2026-11-01T12:30:00Z`,
 * with an offset, or without one meaning UTC) into epoch milliseconds. Anything else, including
 * impossible dates such as `2026-02-30`, is null. Stricter than Date.parse, which accepts
 * almost anything and reads a timestamp without an offset as local time.
 */
export function parseIsoTime(text: string): number | null {
  const m = ISO_TIME.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const base = Date.UTC(year, month - 1, day, hour, minute, second, frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0')));
  if (new Date(base).getUTCDate() !== day) return null; // 2026-02-30 and friends
  let offsetMin = 0;
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return base - offsetMin * 60_000;
}

export const isoTime = z
  .string()
  .refine((s) => parseIsoTime(s) !== null, 'must be an ISO 8601 date (2026-11-01) or timestamp (2026-11-01T12:00:00Z)')
  .transform((s) => parseIsoTime(s)!)
  .meta({ description: 'ISO 8601 date (midnight UTC) or timestamp; UTC when no offset is given', examples: ['2026-11-01', '2026-11-01T12:00:00Z'] });

/** Zod issue → the message and the `param` of a 400. Unknown keys are named too. */
export function firstIssue(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    const prefix = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
    const param = `${prefix}${issue.keys[0]}`;
    return { message: `${param}: unknown parameter`, param };
  }
  const param = issue.path.length > 0 ? issue.path.join('.') : null;
  return { message: `${param ?? 'body'}: ${issue.message}`, param };
}

export async function jsonBody<S extends z.ZodTypeAny>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  const raw = await readBody(c, JSON_LIMIT_BYTES);
  let value: unknown;
  try {
    value = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalid('We could not parse the JSON body of your request.');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const { message, param } = firstIssue(parsed.error);
    throw invalid(message, param);
  }
  return parsed.data;
}

export function queryParams<S extends z.ZodTypeAny>(c: Context<AppEnv>, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) {
    const { message, param } = firstIssue(parsed.error);
    throw invalid(message, param);
  }
  return parsed.data;
}

/** `from`/`to` filters: a date (`2026-11-01`, midnight UTC) or a full timestamp; `from` inclusive, `to` exclusive. */
export const timeRange = {
  from: isoTime.optional().meta({ description: 'inclusive lower bound: ISO 8601 date (midnight UTC) or timestamp' }),
  to: isoTime.optional().meta({ description: 'exclusive upper bound: ISO 8601 date (midnight UTC) or timestamp' }),
};

/** Refuses an empty or inverted range (`to` not after `from`) with a 400 naming `to`. */
export function rangeCheck(v: { from?: number; to?: number }, ctx: z.RefinementCtx): void {
  if (v.from !== undefined && v.to !== undefined && v.to <= v.from) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be later than from' });
  }
}

export const listLimit = z.coerce
  .number()
  .int()
  .min(1)
  .max(1000)
  .default(100)
  .meta({ description: 'page size, 1–1000 (default 100)' });

export const afterCursor = z
  .string()
  .min(1)
  .max(300)
  .optional()
  .meta({ description: 'cursor: the `id` of the last item of the previous page' });

export const sortOrder = z.enum(['asc', 'desc']).default('desc').meta({ description: 'by creation time; newest first by default' });

/** An optional exact-match text filter (ids, model names). */
export const idFilter = (description: string) => z.string().min(1).max(300).optional().meta({ description });
