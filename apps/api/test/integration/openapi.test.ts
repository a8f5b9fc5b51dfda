import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateConnectionResponseSchema } from '@jobtrail/domain';
import request from 'supertest';
import { ROUTES } from '../../src/openapi/openapi-document.js';
import { bearer, probe } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every `$ref` in a document. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** Resolves a local JSON pointer (`#/components/...`, or `#/...` inside a schema) in `root`. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Json)[key];
  }
  return node;
}

/** Checks the parts of the OpenAPI 3.1 structure that tools rely on; returns the problems found. */
function openApiProblems(doc: Json): string[] {
  const problems: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi))
    problems.push(`openapi is ${String(doc.openapi)}`);
  const info = doc.info as Json | undefined;
  if (!info || typeof info.title !== 'string' || typeof info.version !== 'string')
    problems.push('info.title and info.version are required');
  const paths = doc.paths as Record<string, Json> | undefined;
  if (!paths || typeof paths !== 'object') return [...problems, 'paths missing'];
  const schemes = ((doc.components as Json | undefined)?.securitySchemes ?? {}) as Json;
  for (const requirement of (doc.security ?? []) as Json[]) {
    for (const name of Object.keys(requirement))
      if (!(name in schemes)) problems.push(`security names unknown scheme ${name}`);
  }
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/')) problems.push(`path ${path} does not start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) {
        problems.push(`${path}: unknown key ${method}`);
        continue;
      }
      const operation = op as Json;
      const where = `${method.toUpperCase()} ${path}`;
      if (typeof operation.operationId !== 'string') problems.push(`${where}: no operationId`);
      else if (operationIds.has(operation.operationId))
        problems.push(`${where}: duplicate operationId ${operation.operationId}`);
      else operationIds.add(operation.operationId);
      const responses = operation.responses as Record<string, Json> | undefined;
      if (!responses || Object.keys(responses).length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of Object.entries(responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problems.push(`${where}: bad response key ${status}`);
        if (typeof response.description !== 'string') problems.push(`${where} ${status}: no description`);
        for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, Json>)) {
          if (!/^[\w.+-]+\/[\w.+-]+$/.test(type)) problems.push(`${where} ${status}: bad media type ${type}`);
          if (typeof media.schema !== 'object') problems.push(`${where} ${status} ${type}: no schema`);
        }
      }
      const params = (operation.parameters ?? []) as Json[];
      const seen = new Set<string>();
      for (const p of params) {
        if (typeof p.name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(p.in as string))
          problems.push(`${where}: malformed parameter ${JSON.stringify(p)}`);
        if (seen.has(`${String(p.in)}:${String(p.name)}`)) problems.push(`${where}: parameter ${String(p.name)} twice`);
        seen.add(`${String(p.in)}:${String(p.name)}`);
        if (p.in === 'path' && p.required !== true)
          problems.push(`${where}: path parameter ${String(p.name)} not required`);
        if (p.schema === undefined && p.content === undefined)
          problems.push(`${where}: parameter ${String(p.name)} has no schema`);
      }
      const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name);
      if (JSON.stringify([...pathParams].sort()) !== JSON.stringify([...templated].sort()))
        problems.push(`${where}: path parameters ${JSON.stringify(pathParams)} do not match the template`);
      if (operation.requestBody !== undefined) {
        const content = (operation.requestBody as Json).content as Json | undefined;
        if (!content || Object.keys(content).length === 0) problems.push(`${where}: requestBody without content`);
      }
    }
  }
  for (const ref of refs(doc))
    if (resolvePointer(doc, ref) === undefined && !ref.startsWith('#/$defs') && !ref.startsWith('#/definitions'))
      problems.push(`unresolved $ref ${ref}`);
  return problems;
}

describe.each(kinds)('OpenAPI document on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind);
    auth = bearer(t.adminKey);
  });
  afterAll(() => t.close());

  it('serves a valid OpenAPI 3.1 JSON document at /api/docs/openapi.json, without a key', async () => {
    const res = await request(t.server).get('/api/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = JSON.parse(res.text) as Json;
    expect(doc.openapi).toBe('3.1.0');
    expect(openApiProblems(doc)).toEqual([]);
  });

  it('lists every route of the route table, with its parameters, body and responses', async () => {
    const doc = (await request(t.server).get('/api/docs/openapi.json')).body as {
      paths: Record<string, Record<string, Json>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort());
    for (const route of ROUTES) {
      const op = doc.paths[route.path]?.[route.method] as Json;
      expect(op.operationId).toBe(route.operationId);
      const responses = Object.keys(op.responses as Json);
      for (const status of [...Object.keys(route.responses), ...route.errors.map(String)])
        expect({ route: route.operationId, status, documented: responses.includes(status) }).toEqual({
          route: route.operationId,
          status,
          documented: true,
        });
      const params = (op.parameters as Json[]).map((p) => `${String(p.in)}:${String(p.name)}`);
      if (route.idempotent) expect(params).toContain('header:Idempotency-Key');
      if (route.body) expect(op.requestBody).toBeDefined();
      if (route.role === null) expect(op.security).toEqual([]);
    }
    // The history's filters are documented.
    const history = doc.paths['/connections/{connection_id}/jobs']?.get as Json;
    expect((history.parameters as Json[]).map((p) => p.name)).toEqual(
      expect.arrayContaining(['connection_id', 'status', 'action', 'from', 'to', 'limit', 'cursor']),
    );
  });

  it('every route of the table answers at its path (never route-not-found), with a status it documents', async () => {
    const created = async () =>
      CreateConnectionResponseSchema.parse(
        (
          await request(t.server)
            .post('/api/connections')
            .set(auth)
            .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
        ).body,
      );
    const { connection, job } = await created();
    const doomed = await created();
    for (const route of ROUTES) {
      // Delete a connection of its own, so the other routes keep theirs.
      const connectionId =
        route.operationId === 'deleteConnection' ? doomed.connection.connection_id : connection.connection_id;
      const keyId = route.path.includes('{key_id}') ? (await t.createKey('viewer')).id : '';
      // A subscription of its own per webhook route (one deletes it), with a queued test delivery.
      let webhookId = '';
      let deliveryId = '';
      if (route.path.includes('{webhook_id}')) {
        webhookId = (
          await request(t.server)
            .post('/api/webhooks')
            .set(auth)
            .send({ url: 'http://127.0.0.1:9/openapi-probe', events: ['*'] })
            .expect(201)
        ).body.webhook_id as string;
        deliveryId = (await request(t.server).post(`/api/webhooks/${webhookId}/test`).set(auth).expect(202)).body
          .delivery_id as string;
      }
      const path = `/api${route.path
        .replace('{connection_id}', connectionId)
        .replace('{job_id}', job.job_id)
        .replace('{key_id}', keyId)
        .replace('{webhook_id}', webhookId)
        .replace('{delivery_id}', deliveryId)}`;
      expect(path).not.toMatch(/[{}]/);
      const body =
        route.operationId === 'createConnection'
          ? JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
          : route.operationId === 'createApiKey'
            ? JSON.stringify({ name: 'openapi probe', role: 'viewer' })
            : route.operationId === 'createWebhook'
              ? JSON.stringify({ url: 'http://127.0.0.1:9/openapi-probe', events: ['*'] })
              : route.operationId === 'updateWebhook'
                ? JSON.stringify({ description: 'probed' })
                : undefined;
      // A streaming route (server-sent events) is probed up to its headers.
      const res = await probe(t.server, route.method, path, auth, body);
      const code =
        res.headers['content-type']?.includes('json') && res.text
          ? (JSON.parse(res.text) as { code?: unknown }).code
          : undefined;
      expect({ route: route.operationId, code }).not.toEqual({ route: route.operationId, code: 'route-not-found' });
      const allowed = [...Object.keys(route.responses).map(Number), ...route.errors];
      expect({ route: route.operationId, status: res.status, allowed: allowed.includes(res.status) }).toEqual({
        route: route.operationId,
        status: res.status,
        allowed: true,
      });
    }
  });

  it('serves the API reference as HTML at /api/docs', async () => {
    const res = await request(t.server).get('/api/docs').redirects(2);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<html/i);
    expect(res.text).toMatch(/swagger/i);
  });
});
