import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, loadConfig } from '../config.js';
import { openMigratedDatabase } from '../db/client.js';
import { createStore, type Store } from '../db/store.js';
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

/**
 * The store on DATABASE_URL, migrated. Only `migrate` may create the file: for any other command
 * a missing file is a wrong path or directory (exit 2), not a wish for an empty database.
 */
export function openStore(opts: { create?: boolean } = {}): { store: Store; close: () => void } {
  const config = loadConfig(process.env);
  const path = config.databasePath;
  if (!opts.create && path !== ':memory:' && !existsSync(path)) {
    throw new ConfigError(
      `DATABASE_URL: no database at ${resolve(path)}. Point DATABASE_URL at reelay's database, run 'reelay migrate' to create a new one, or set REELAY_URL and ADMIN_TOKEN to work through a running server.`,
    );
  }
  const database = openMigratedDatabase(path);
  return { store: createStore(database), close: () => database.close() };
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
