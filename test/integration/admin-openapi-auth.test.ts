import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHarness, seedJob, seedKey, type AdminHarness } from './admin-fixtures.js';
import { createKey } from '../../src/keys/service.js';
import { fromAddress } from '../helpers/app-harness.js';

let h: AdminHarness;
let reelayKey: string;
let videoId: string;

beforeAll(async () => {
  h = adminHarness();
  reelayKey = (await createKey(h.deps.store, { name: 'tenant' }, Date.now())).secret;
  const key = await seedKey(h.deps, 'owner');
  videoId = (await seedJob(h.deps, key, { at: Date.UTC(2026, 10, 1), outcome: 'completed' })).videoId!;
});
afterAll(() => h.close());

const ROUTES = () => [
  '/admin/jobs',
  `/admin/jobs/${videoId}`,
  '/admin/ledger',
  '/admin/requests',
  '/admin/usage/export',
  '/admin/usage/export?format=json',
  '/admin/usage/summary',
  '/admin/pricing',
  '/admin/audit',
  '/admin/openapi.json',
  '/admin/keys',
  '/admin/webhooks/deliveries',
  '/admin/upstreams',
];

describe('admin authentication on every route', () => {
  it('answers 401 without a token or with a wrong one', async () => {
    let client = 0;
    for (const path of ROUTES()) {
      for (const authorization of ['', 'Bearer wrong-token-000000000', 'Basic dGVzdA==', `Bearer test-admin-token-123456x`]) {
        // Each from its own address: repeated wrong tokens from one address are throttled (429).
        const headers = { authorization };
        const res = await h.app.request(path, { headers }, fromAddress(`10.0.1.${++client}`, headers));
        expect(res.status, `${path} with '${authorization}'`).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      }
    }
  });

  it('answers 403 to a reelay API key', async () => {
    for (const path of ROUTES()) {
      const res = await h.call(path, { headers: { authorization: `Bearer ${reelayKey}` } });
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
  });

  it('answers 200 with the admin token', async () => {
    for (const path of ROUTES()) {
      const res = await h.call(path);
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
  });
});

type Param = { name: string; in: string; required: boolean; schema: { type?: string | string[]; enum?: string[]; default?: unknown; minimum?: number; pattern?: string } };
type Op = { parameters?: Param[]; requestBody?: { content: { 'application/json': { schema: any } } }; responses: Record<string, unknown> };

describe('GET /admin/openapi.json', () => {
  let doc: any;
  beforeAll(async () => {
    doc = await h.json('/admin/openapi.json');
  });

  it('is an OpenAPI 3.1 document of every admin route, with bearer auth', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.adminToken).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/admin/audit',
        '/admin/jobs',
        '/admin/jobs/{id}',
        '/admin/keys',
        '/admin/keys/{id}',
        '/admin/keys/{id}/credits',
        '/admin/keys/{id}/webhook-secret',
        '/admin/ledger',
        '/admin/openapi.json',
        '/admin/pricing',
        '/admin/requests',
        '/admin/upstreams',
        '/admin/upstreams/{id}',
        '/admin/usage/export',
        '/admin/usage/summary',
        '/admin/webhooks/deliveries',
        '/admin/webhooks/events/{id}/redeliver',
      ].sort(),
    );
    expect(Object.keys(doc.paths['/admin/keys/{id}'])).toEqual(['get', 'patch', 'delete']);
  });

  it('describes query parameters straight from the validating zod schemas', () => {
    const jobs = doc.paths['/admin/jobs'].get as Op;
    expect(jobs.parameters!.map((p) => p.name)).toEqual(['key_id', 'status', 'model', 'from', 'to', 'after', 'limit', 'order']);
    const status = jobs.parameters!.find((p) => p.name === 'status')!;
    expect(status.schema.enum).toEqual(['pending', 'queued', 'in_progress', 'completed', 'failed', 'expired', 'rejected', 'unknown', 'open']);
    expect(jobs.parameters!.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });
    const exportOp = doc.paths['/admin/usage/export'].get as Op;
    expect(exportOp.parameters!.find((p) => p.name === 'format')!.schema).toMatchObject({ enum: ['csv', 'jsonl', 'json'], default: 'csv' });
    expect(Object.keys((exportOp.responses['200'] as { content: object }).content)).toEqual(['text/csv', 'application/jsonl', 'application/json']);
  });

  it('describes request bodies from the same schemas, transforms shown as their input', () => {
    const create = (doc.paths['/admin/keys'].post as Op).requestBody!.content['application/json'].schema;
    expect(create.required).toEqual(['name']);
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.credit_usd.type).toEqual(['string', 'number']);
    expect(Object.keys(create.properties)).toEqual(['name', 'credit_usd', 'allowed_models', 'rpm_limit', 'max_inflight_jobs', 'max_concurrent_downloads', 'expires_at', 'webhook_url']);
    const patchBody = (doc.paths['/admin/keys/{id}'].patch as Op).requestBody!.content['application/json'].schema;
    for (const body of [create, patchBody]) {
      expect(body.properties.max_concurrent_downloads).toMatchObject({ anyOf: [{ type: 'integer', exclusiveMinimum: 0, maximum: 1000 }, { type: 'null' }] });
    }
    expect((doc.components.schemas as Record<string, any>).ApiKey.properties.max_concurrent_downloads).toMatchObject({ anyOf: [{ type: 'integer' }, { type: 'null' }] });
    expect((doc.paths['/admin/keys'].post as Op).responses['429']).toEqual({ $ref: '#/components/responses/E429' });
    const credit = (doc.paths['/admin/keys/{id}/credits'].post as Op).requestBody!.content['application/json'].schema;
    expect(credit.required).toEqual(['amount_usd']);
    const patch = (doc.paths['/admin/keys/{id}'].patch as Op).requestBody!.content['application/json'].schema;
    expect(patch.properties.disabled.type).toBe('boolean');
  });

  it('resolves every $ref to a component', () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const path = ref.slice(8, -1).replace(/^#\//, '').split('/');
      let node = doc;
      for (const part of path) node = node?.[part];
      expect(node, ref).toBeDefined();
    }
  });

  it('matches what the routes accept: every documented parameter passes, an undocumented one is refused', async () => {
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Op>>)) {
      const op = item.get;
      if (!op?.parameters || path.includes('{')) continue;
      const query = new URLSearchParams();
      for (const p of op.parameters) {
        if (p.name === 'after') continue; // a cursor must name an existing item
        const s = p.schema;
        const value = s.enum ? s.enum[0]! : p.name === 'from' ? '2026-01-01' : p.name === 'to' ? '2027-01-01T00:00:00Z' : s.type === 'integer' ? String(s.default ?? s.minimum ?? 1) : 'x1';
        query.set(p.name, value);
      }
      const ok = await h.call(`${path}?${query}`);
      expect(ok.status, `${path}?${query}: ${ok.status === 200 ? '' : await ok.clone().text()}`).toBe(200);
      await ok.arrayBuffer();
      const bad = await h.call(`${path}?${query}&undocumented=1`);
      expect(bad.status, path).toBe(400);
      expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('undocumented');
    }
  });
});
