import type { Context } from 'hono';
import type { AppEnv } from '../../http/context.js';
import type { Deps } from '../../deps.js';
import type { Actor } from '../../db/billing-store.js';
import { readBody } from '../../http/body.js';
import type { Session } from './session.js';

/** The dashboard's hono env: the app's variables plus the signed-in session. */
export type UiEnv = { Bindings: AppEnv['Bindings']; Variables: AppEnv['Variables'] & { session: Session; form: URLSearchParams } };
export type UiContext = Context<UiEnv>;

/** The actor of every change made through the dashboard (ledger entries and audit entries). */
export const UI_ACTOR = 'admin-ui';

export const FORM_LIMIT_BYTES = 64 * 1024;

/** The form of a POST, read (and CSRF-checked) once by the dashboard's middleware. */
export function formOf(c: UiContext): URLSearchParams {
  return c.get('form') ?? new URLSearchParams();
}

/** An urlencoded form body, read with a size limit. */
export async function readForm(c: Context<UiEnv> | Context<AppEnv>): Promise<URLSearchParams> {
  const raw = await readBody(c as Context<AppEnv>, FORM_LIMIT_BYTES);
  return new URLSearchParams(raw.toString('utf8'));
}

export function who(c: UiContext, deps: Deps): Actor {
  return { actor: UI_ACTOR, requestId: c.get('state').requestId, now: deps.now() };
}

export function flash(c: UiContext, kind: 'ok' | 'error', text: string): void {
  c.get('session').flash.push({ kind, text });
}

/** Post/redirect/get: 303 so a reload never repeats the change. */
export function seeOther(c: Context, location: string): Response {
  return c.redirect(location, 303);
}

/** Every key's name (for showing names instead of ids) and the list the key pickers offer. */
export async function keyDirectory(deps: Deps): Promise<{ list: { id: string; name: string; revokedAt: number | null }[]; names: Map<string, string> }> {
  const list = await deps.store.listKeyNames();
  return { list, names: new Map(list.map((k) => [k.id, k.name])) };
}
