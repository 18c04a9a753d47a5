import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';

/**
 * The operator's upstreams (contract §10): from UPSTREAMS_FILE, or the one implicit `default`
 * upstream from UPSTREAM_BASE_URL / UPSTREAM_API_KEY. Read and validated once, at start-up; any
 * problem stops start-up with a message naming the field or the missing environment variable.
 *
 * The credential is read from the environment variable the file names and kept as a
 * non-enumerable property, so that serialising a spec (a log line, a JSON answer) never shows it.
 */
export interface UpstreamSpec {
  readonly id: string;
  /** Ends in /v1, no trailing slash. */
  readonly baseUrl: string;
  /** The environment variable holding the credential (null for `default`, which reads UPSTREAM_API_KEY). */
  readonly apiKeyEnv: string | null;
  /** null: every priced model. */
  readonly models: readonly string[] | null;
  readonly priority: number;
  readonly weight: number;
  /** null: no limit. */
  readonly maxInflightJobs: number | null;
  readonly enabled: boolean;
  /** Non-enumerable: never serialised. */
  readonly apiKey: string | undefined;
}

export const DEFAULT_UPSTREAM_ID = 'default';
const ID_PATTERN = /^[a-z0-9_-]{1,40}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const KNOWN_FIELDS = new Set(['id', 'base_url', 'api_key_env', 'models', 'priority', 'weight', 'max_inflight_jobs', 'enabled']);

function withKey(spec: Omit<UpstreamSpec, 'apiKey'>, apiKey: string | undefined): UpstreamSpec {
  const out = { ...spec } as UpstreamSpec;
  Object.defineProperty(out, 'apiKey', { value: apiKey, enumerable: false });
  return Object.freeze(out);
}

export function defaultUpstream(baseUrl: string, apiKey: string | undefined): UpstreamSpec {
  return withKey(
    { id: DEFAULT_UPSTREAM_ID, baseUrl: baseUrl.replace(/\/+$/, ''), apiKeyEnv: null, models: null, priority: 0, weight: 1, maxInflightJobs: null, enabled: true },
    apiKey,
  );
}

export function isHttpV1Url(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && v.replace(/\/+$/, '').endsWith('/v1');
  } catch {
    return false;
  }
}

/** Parses the file's JSON text against `env`; throws ConfigError naming the field or variable. */
export function parseUpstreamsFile(json: unknown, env: Record<string, string | undefined>): UpstreamSpec[] {
  const fail = (msg: string): never => {
    throw new ConfigError(`UPSTREAMS_FILE: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { upstreams?: unknown }).upstreams)) {
    fail('must be a JSON object with an "upstreams" array');
  }
  const list = (json as { upstreams: unknown[] }).upstreams;
  if (list.length === 0) fail('"upstreams" must list at least one upstream');
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const at = `upstreams[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${at} must be an object`);
    const u = raw as Record<string, unknown>;
    for (const field of Object.keys(u)) if (!KNOWN_FIELDS.has(field)) fail(`${at}.${field} is not a known field`);
    if (typeof u.id !== 'string' || !ID_PATTERN.test(u.id)) fail(`${at}.id must be 1-40 characters of a-z, 0-9, _ and -`);
    const id = u.id as string;
    const name = `${at} (${id})`;
    if (seen.has(id)) fail(`${name}.id is used twice`);
    seen.add(id);
    if (typeof u.base_url !== 'string' || !isHttpV1Url(u.base_url)) fail(`${name}.base_url must be an http(s) URL ending in /v1`);
    if (typeof u.api_key_env !== 'string' || !ENV_NAME.test(u.api_key_env)) fail(`${name}.api_key_env must name an environment variable`);
    const apiKeyEnv = u.api_key_env as string;
    const apiKey = env[apiKeyEnv];
    if (apiKey === undefined || apiKey === '') fail(`${name}.api_key_env: the environment variable ${apiKeyEnv} is not set`);
    let models: string[] | null = null;
    if (u.models !== undefined) {
      if (!Array.isArray(u.models) || u.models.length === 0 || !u.models.every((m) => typeof m === 'string' && m.length > 0 && m.length <= 100)) {
        fail(`${name}.models must be a non-empty array of model names`);
      }
      models = [...new Set(u.models as string[])];
    }
    const int = (field: string, min: number, max: number, dflt: number | null): number | null => {
      const v = u[field];
      if (v === undefined || (v === null && dflt === null)) return dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${name}.${field} must be a whole number from ${min} to ${max}`);
      return v as number;
    };
    const priority = int('priority', 0, 1000, 0)!;
    const weight = int('weight', 1, 1_000_000, 1)!;
    const maxInflightJobs = int('max_inflight_jobs', 1, 10_000_000, null);
    if (u.enabled !== undefined && typeof u.enabled !== 'boolean') fail(`${name}.enabled must be true or false`);
    return withKey(
      { id, baseUrl: (u.base_url as string).replace(/\/+$/, ''), apiKeyEnv, models, priority, weight, maxInflightJobs, enabled: u.enabled !== false },
      apiKey,
    );
  });
}

/** UPSTREAMS_FILE read from disk, or the implicit `default` upstream without it. */
export function loadUpstreams(
  file: string | undefined,
  env: Record<string, string | undefined>,
  fallback: { baseUrl: string; apiKey: string | undefined },
): UpstreamSpec[] {
  if (!file) return [defaultUpstream(fallback.baseUrl, fallback.apiKey)];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`UPSTREAMS_FILE: cannot read ${file} as JSON (${(err as Error).message})`);
  }
  return parseUpstreamsFile(json, env);
}
