import { z } from 'zod';
import type { Context } from 'hono';
import type { AppEnv } from '../http/context.js';
import { readBody, JSON_LIMIT_BYTES } from '../http/body.js';
import { invalid } from '../errors.js';
import { parseUsd } from '../money.js';

/** Shared zod pieces and parsing helpers of the admin API: a bad field is a 400 that names it. */
export const usdAmount = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseUsd(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date or timestamp')
  .transform((s) => Date.parse(s));

export function firstIssue(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0]!;
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

/** `from`/`to` filters: a date (`2026-11-01`, midnight UTC) or a full timestamp. */
export const timeRange = {
  from: isoTime.optional(),
  to: isoTime.optional(),
};

export const listLimit = z.coerce.number().int().min(1).max(1000).default(100);
