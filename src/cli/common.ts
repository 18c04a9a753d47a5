import type { z } from 'zod';
import { loadConfig } from '../config.js';
import { openMigratedDatabase } from '../db/client.js';
import { createStore, type Store } from '../db/store.js';
import { firstIssue } from '../admin/input.js';

/** Shared pieces of the CLI commands: errors, output, the local database. */

/** A mistake in the command line: printed with the usage, exit status 2. */
export class UsageError extends Error {}

/** A JSON line on stdout (data); messages go to stderr so output pipes well. */
export function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** The store on DATABASE_URL (migrated). */
export function openStore(): { store: Store; close: () => void } {
  const config = loadConfig(process.env);
  const database = openMigratedDatabase(config.databasePath);
  return { store: createStore(database), close: () => database.close() };
}

export function intOption(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`--${name} must be a positive whole number`);
  return Number(value);
}

/**
 * Validates options with the admin API's own zod schema, so the CLI accepts exactly what the HTTP
 * route accepts. `fields` maps the schema's field names to the CLI's option values.
 */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, fields: Record<string, string | undefined>): z.output<S> {
  const input = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const { message, param } = firstIssue(parsed.error);
    if (param === null) throw new UsageError(message);
    const flag = param === 'key_id' ? '--key' : `--${param.replace(/_/g, '-')}`;
    throw new UsageError(`${flag}${message.slice(param.length)}`);
  }
  return parsed.data;
}
