import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, describeDatabase, loadConfig, type Config } from '../config.js';
import { openStore, type OpenedStore } from '../db/open.js';
import { firstIssue } from '../admin/input.js';

/** Shared pieces of the CLI commands: errors and their exit codes, output, options, the database. */

/** A mistake in the command line (or a malformed value): printed with the usage, exit status 2. */
export class UsageError extends Error {}
/** Nothing matched (an unknown key id, no request-log rows): exit status 1. */
export class NothingFound extends Error {}
/** The server or the database refused the change (an overdraft, a wrong admin token): exit status 1. */
export class Refused extends Error {}

/** 0 done, 1 nothing found or refused, 2 bad command line or configuration. */
export function exitCodeOf(err: unknown): 1 | 2 {
  const code = (err as { code?: unknown }).code;
  const badCommandLine = err instanceof UsageError || err instanceof ConfigError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
  return badCommandLine ? 2 : 1;
}

/** A JSON line on stdout (data); messages go to stderr so output pipes well. */
export function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** The database could not be reached or opened (PostgreSQL down, wrong credentials): exit status 1. */
export class DatabaseUnreachable extends Error {}

/**
 * The store on DATABASE_URL, migrated: a SQLite file or a PostgreSQL database. Only `migrate' may
 * create a SQLite file: for any other command a missing file is a wrong path or directory (exit 2),
 * not a wish for an empty database. A PostgreSQL server that cannot be reached is exit 1, with
 * pg's reason and the URL without its password.
 */
export async function openLocalStore(opts: { create?: boolean; config?: Config } = {}): Promise<OpenedStore> {
  const config = opts.config ?? loadConfig(process.env);
  const d = config.database;
  if (d.engine === 'sqlite' && !opts.create && d.path !== ':memory:' && !existsSync(d.path)) {
    throw new ConfigError(
      `DATABASE_URL: no database at ${resolve(d.path)}. Point DATABASE_URL at reelay's database, run 'reelay migrate' to create a new one, or set REELAY_URL and ADMIN_TOKEN to work through a running server.`,
    );
  }
  if (d.engine === 'sqlite') return openStore(config);
  try {
    // The CLI does one thing and exits: a couple of connections are plenty.
    return await openStore({ database: { ...d, poolSize: Math.min(d.poolSize, 2) } });
  } catch (err) {
    throw new DatabaseUnreachable(`cannot open the PostgreSQL database ${describeDatabase(d)}: ${pgReason(err)}`);
  }
}

/** pg's reason for a failure, without anything that could carry the password. */
export function pgReason(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] };
  // A refused connection to a name with several addresses is an AggregateError with an empty message.
  const message = e.message || e.errors?.map((x) => x.message).filter(Boolean).join('; ') || String(err);
  return e.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

/** A whole-number option: absent → undefined; anything but digits → exit 2 (ranges are the schema's). */
export function intOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value.trim())) throw new UsageError(`--${flag} must be a positive whole number`);
  return Number(value);
}

/** The CLI's flag for each API field, to name it in messages. */
const FLAGS: Record<string, string> = {
  credit_usd: '--credit',
  allowed_models: '--models',
  rpm_limit: '--rpm',
  max_inflight_jobs: '--max-inflight',
  max_concurrent_downloads: '--max-downloads',
  expires_at: '--expires',
  amount_usd: '--amount',
  key_id: '--key',
};

/**
 * Validates options with the admin API's own zod schema, so the CLI accepts exactly what the HTTP
 * route accepts (in both modes, before anything is opened or sent). `fields` holds the API's field
 * names with the CLI's values; an absent (undefined) field is left out.
 */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, fields: Record<string, unknown>): z.output<S> {
  const parsed = schema.safeParse(defined(fields));
  if (!parsed.success) {
    const { message, param } = firstIssue(parsed.error);
    if (param === null) throw new UsageError(message);
    const flag = FLAGS[param] ?? `--${param.replace(/_/g, '-')}`;
    throw new UsageError(`${flag}${message.slice(param.length)}`);
  }
  return parsed.data;
}

/** `fields` without its undefined entries: the JSON body or query the API takes. */
export function defined<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
