/**
 * The authorization matrix, generated from the route table (ROUTES): every route × every caller ×
 * every kind of id. Each cell's status is asserted; another tenant's id must be answered exactly
 * like an id that does not exist; and the routes the running app serves must be the table's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { roleAllows, type ApiKeyRole } from '@jobtrail/domain';
import { ApiKeysRepository } from '../../src/auth/api-keys.repository.js';
import { ROUTES, type RouteSpec } from '../../src/openapi/openapi-document.js';
import { uuidv7At } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { problemViolations } from './support/checks.js';
import { bearer, createFixture, jobStates, type Fixture } from './support/fixtures.js';
import { send, type RawResponse } from './support/http.js';
import { routerRoute, pathOf, servedRoutes } from './support/routes.js';

const kinds = await databaseKinds();

const CALLERS = ['no key', 'revoked key', 'viewer', 'operator', 'admin', "other tenant's admin"] as const;
type Caller = (typeof CALLERS)[number];
/** Ids relative to the caller's tenant (tenant `default` for the callers without a valid key). */
const IDS = ['own id', "other tenant's id", 'missing id'] as const;
type IdKind = (typeof IDS)[number];

/** The status each route answers when everything is allowed, on the fixtures below. */
const SUCCESS: Readonly<Record<string, number>> = {
  health: 200,
  whoAmI: 200,
  createConnection: 202,
  listConnections: 200,
  getConnection: 200,
  // New credentials for the fixture (its refresh was cancelled): a new refresh verifies them.
  updateConnection: 202,
  jobStats: 200,
  bulkRetryJobs: 200,
  deleteConnection: 204,
  // The fixture's refresh was cancelled: a new one starts.
  refreshConnection: 202,
  // The fixture's purge is pending: that job is the answer.
  purgeConnection: 200,
  listConnectionJobs: 200,
  searchJobs: 200,
  getJob: 200,
  getJobLogs: 200,
  retryJob: 202,
  createEventToken: 201,
  streamEvents: 200,
  metrics: 200,
  cancelJob: 200,
  // The fixture's pending job waits for no one-time code: its allowed callers get that 409.
  answerJobChallenge: 409,
  listInstitutions: 200,
  listApiKeys: 200,
  createApiKey: 201,
  // A fresh viewer key of the id's tenant is revoked.
  revokeApiKey: 204,
  // Each webhook cell gets a fresh subscription of the id's tenant, with a queued test delivery.
  createWebhook: 201,
  listWebhooks: 200,
  getWebhook: 200,
  updateWebhook: 200,
  deleteWebhook: 204,
  rotateWebhookSecret: 200,
  testWebhook: 202,
  listWebhookDeliveries: 200,
  redeliverWebhookDelivery: 202,
  listJobDeliveries: 200,
};

/** Routes that change what they are called on: each cell that reaches a resource gets a fresh one. */
const MUTATING = new Set([
  'deleteConnection',
  'updateConnection',
  'refreshConnection',
  'purgeConnection',
  'retryJob',
  'cancelJob',
  'revokeApiKey',
]);

/** Routes served by the app that are not API operations: the API's own documentation. */
const DOCUMENTATION = /^GET \/api\/docs(\/.*|\*|-json|-yaml)?$/;

/** Headers that legitimately differ between two identical answers. */
const VOLATILE_HEADERS = new Set(['date', 'x-request-id', 'ratelimit-remaining']);

function expectedStatus(route: RouteSpec, caller: Caller, role: ApiKeyRole | null, id: IdKind | null): number {
  const success = SUCCESS[route.operationId];
  if (success === undefined)
    throw new Error(`route ${route.operationId} is not in the authorization matrix: add its success status to SUCCESS`);
  if (route.role === null) return success;
  if (role === null) return 401;
  if (!roleAllows(role, route.role)) return 403;
  if (id !== null && id !== 'own id') return 404;
  return success;
}

const CODES: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not-found' };

describe.each(kinds)('authorization matrix on %s', (kind) => {
  let t: TestApp;
  const keys = new Map<Caller, string | null>();
  const roles = new Map<Caller, ApiKeyRole | null>();
  /** Tenant of each caller's id space: `default` or `other`. */
  const tenantOf = (caller: Caller): 'default' | 'other' => (caller === "other tenant's admin" ? 'other' : 'default');
  const admins = { default: '', other: '' };
  /** Shared fixtures of each tenant, for the routes that only read. */
  const shared = new Map<'default' | 'other', Fixture>();
  /** Every cell's answer, to compare "other tenant's id" with "missing id" afterwards. */
  const answers = new Map<string, RawResponse>();
  let cells = 0;

  beforeAll(async () => {
    t = await startTestApp(kind);
    admins.default = t.adminKey;
    admins.other = (await t.createKey('admin', 'other')).key;
    const revoked = await t.createKey('admin');
    expect((await send(t.server, { method: 'GET', path: '/api/me', headers: bearer(revoked.key) })).status).toBe(200);
    expect(await t.app.get(ApiKeysRepository).revokeKey(revoked.id)).toBe(true);
    keys
      .set('no key', null)
      .set('revoked key', revoked.key)
      .set('viewer', (await t.createKey('viewer')).key)
      .set('operator', (await t.createKey('operator')).key);
    keys.set('admin', t.adminKey).set("other tenant's admin", admins.other);
    roles
      .set('no key', null)
      .set('revoked key', null)
      .set('viewer', 'viewer')
      .set('operator', 'operator')
      .set('admin', 'admin')
      .set("other tenant's admin", 'admin');
    shared.set('default', await createFixture(t.server, admins.default));
    shared.set('other', await createFixture(t.server, admins.other));
  });
  afterAll(async () => {
    console.log(`authorization matrix on ${kind}: ${cells} cells`);
    await t.close();
  });

  /** The path ids of a cell: of the fixture of the id's tenant, or a fresh UUIDv7 for a missing one. */
  function idsFor(
    route: RouteSpec,
    fixture: Fixture | null,
    keyId: string | null,
    webhook: { webhookId: string; deliveryId: string } | null,
  ): Record<string, string> {
    if (!fixture)
      return {
        connection_id: uuidv7At(Date.now()),
        job_id: uuidv7At(Date.now()),
        key_id: uuidv7At(Date.now()),
        webhook_id: uuidv7At(Date.now()),
        delivery_id: uuidv7At(Date.now()),
      };
    return {
      connection_id: fixture.connectionId,
      job_id: route.operationId === 'retryJob' ? fixture.cancelledJobId : fixture.pendingJobId,
      key_id: keyId ?? uuidv7At(Date.now()),
      webhook_id: webhook?.webhookId ?? uuidv7At(Date.now()),
      delivery_id: webhook?.deliveryId ?? uuidv7At(Date.now()),
    };
  }

  /** A subscription of a tenant (its admin makes it) and a queued test delivery of it. */
  async function webhookOf(tenant: 'default' | 'other'): Promise<{ webhookId: string; deliveryId: string }> {
    const created = await send(t.server, {
      method: 'POST',
      path: '/api/webhooks',
      headers: { ...bearer(admins[tenant]), 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9/matrix', events: ['*'] }),
    });
    const webhookId = (JSON.parse(created.text) as { webhook_id: string }).webhook_id;
    const test = await send(t.server, {
      method: 'POST',
      path: `/api/webhooks/${webhookId}/test`,
      headers: bearer(admins[tenant]),
    });
    return { webhookId, deliveryId: (JSON.parse(test.text) as { delivery_id: string }).delivery_id };
  }

  async function call(route: RouteSpec, key: string | null, path: string, marker: string): Promise<RawResponse> {
    const headers: Record<string, string> = key ? bearer(key) : {};
    if (route.operationId === 'createConnection') {
      return send(t.server, {
        method: 'POST',
        path,
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ institution_id: 'sandbox', login_id: marker, password: 'matrix-password' }),
      });
    }
    if (
      route.operationId === 'updateConnection' ||
      route.operationId === 'bulkRetryJobs' ||
      route.operationId === 'answerJobChallenge' ||
      route.operationId === 'createWebhook' ||
      route.operationId === 'updateWebhook'
    ) {
      return send(t.server, {
        method: route.method.toUpperCase(),
        path,
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(
          route.operationId === 'updateConnection'
            ? { password: marker }
            : route.operationId === 'bulkRetryJobs'
              ? { dry_run: true }
              : route.operationId === 'answerJobChallenge'
                ? { code: '123456' }
                : route.operationId === 'createWebhook'
                  ? { url: 'http://127.0.0.1:9/matrix', events: ['*'], description: marker }
                  : { description: marker },
        ),
      });
    }
    if (route.operationId === 'createApiKey') {
      return send(t.server, {
        method: 'POST',
        path,
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: marker, role: 'viewer' }),
      });
    }
    return send(t.server, { method: route.method, path, headers });
  }

  it.each(ROUTES.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))(
    '%s: every caller × id answers as its role and tenant allow',
    async (_name, route) => {
      const hasIds = route.params !== undefined;
      const expected: Record<string, number> = {};
      const actual: Record<string, number> = {};
      const problems: string[] = [];
      for (const caller of CALLERS) {
        for (const id of hasIds ? IDS : [null]) {
          const cell = `${caller} × ${id ?? 'no id'}`;
          cells += 1;
          const role = roles.get(caller) ?? null;
          const status = expectedStatus(route, caller, role, id);
          expected[cell] = status;
          // The tenant the id belongs to.
          const idTenant =
            id === 'own id'
              ? tenantOf(caller)
              : id === "other tenant's id"
                ? tenantOf(caller) === 'default'
                  ? 'other'
                  : 'default'
                : null;
          const fresh = idTenant !== null && MUTATING.has(route.operationId);
          const fixture =
            idTenant === null ? null : fresh ? await createFixture(t.server, admins[idTenant]) : shared.get(idTenant)!;
          const before =
            fresh && fixture && idTenant ? await jobStates(t.server, admins[idTenant], fixture.connectionId) : null;
          const marker = `matrix-${status === SUCCESS[route.operationId] ? 'ok' : 'refused'}-${cells}`;
          // A key of the id's tenant, for the key routes.
          const keyId =
            idTenant !== null && route.params?.shape.key_id ? (await t.createKey('viewer', idTenant)).id : null;
          const webhook = idTenant !== null && route.params?.shape.webhook_id ? await webhookOf(idTenant) : null;
          const res = await call(
            route,
            keys.get(caller) ?? null,
            pathOf(route, idsFor(route, fixture, keyId, webhook)),
            marker,
          );
          actual[cell] = res.status;
          answers.set(`${route.operationId} | ${cell}`, res);
          if (res.status >= 400) {
            for (const p of problemViolations(res)) problems.push(`${cell}: ${p}`);
            const code = (JSON.parse(res.text) as { code?: string }).code;
            if (CODES[res.status] && code !== CODES[res.status])
              problems.push(`${cell}: code ${code} on a ${res.status}`);
            if (res.status === 401 && !/^Bearer\b/.test(String(res.headers['www-authenticate'])))
              problems.push(`${cell}: 401 without WWW-Authenticate: Bearer`);
          } else if (res.status === SUCCESS[route.operationId]) {
            const schema = route.responses[res.status];
            if (schema) {
              const parsed = schema.safeParse(JSON.parse(res.text));
              if (!parsed.success)
                problems.push(`${cell}: ${res.status} body does not match its schema: ${parsed.error.message}`);
            } else if (route.produces && !String(res.headers['content-type']).startsWith(route.produces))
              problems.push(`${cell}: content-type ${String(res.headers['content-type'])}`);
          }
          // A refused call changed nothing.
          if (before !== null && fixture && idTenant && res.status >= 400) {
            const after = await jobStates(t.server, admins[idTenant], fixture.connectionId);
            if (JSON.stringify(after) !== JSON.stringify(before))
              problems.push(
                `${cell}: refused with ${res.status} but the connection changed: ${JSON.stringify(before)} → ${JSON.stringify(after)}`,
              );
          }
        }
      }
      expect(actual).toEqual(expected);
      expect(problems).toEqual([]);
    },
  );

  it("answers another tenant's id byte for byte like a missing one (status, body apart from `instance`, headers)", () => {
    const differences: string[] = [];
    let compared = 0;
    for (const route of ROUTES.filter((r) => r.params)) {
      for (const caller of CALLERS) {
        const other = answers.get(`${route.operationId} | ${caller} × other tenant's id`);
        const missing = answers.get(`${route.operationId} | ${caller} × missing id`);
        if (!other || !missing) throw new Error(`matrix cells of ${route.operationId} missing: run the whole file`);
        compared += 1;
        const where = `${route.operationId} as ${caller}`;
        if (other.status !== missing.status) differences.push(`${where}: status ${other.status} vs ${missing.status}`);
        const strip = (text: string) => {
          try {
            const { instance: _instance, ...rest } = JSON.parse(text) as Record<string, unknown>;
            return JSON.stringify(rest);
          } catch {
            return text;
          }
        };
        if (strip(other.text) !== strip(missing.text))
          differences.push(`${where}: body ${other.text} vs ${missing.text}`);
        const headers = (res: RawResponse) =>
          Object.entries(res.headers)
            .filter(([k]) => !VOLATILE_HEADERS.has(k))
            .map(([k, v]) => `${k}: ${String(v)}`)
            .sort();
        const a = headers(other);
        const b = headers(missing);
        if (JSON.stringify(a) !== JSON.stringify(b))
          differences.push(`${where}: headers ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
    expect(compared).toBe(ROUTES.filter((r) => r.params).length * CALLERS.length);
    expect(differences).toEqual([]);
  });

  it('created no connection for a refused POST /connections', async () => {
    const rows = await t.db.query<{ login_id: string }>(
      "SELECT login_id FROM connections WHERE login_id LIKE 'matrix-refused-%'",
    );
    expect(rows).toEqual([]);
    const created = await t.db.query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM connections WHERE login_id LIKE 'matrix-ok-%'",
    );
    expect(Number(created[0]?.n)).toBe(3);
  });

  it('serves exactly the routes of the table under /api (a new route must be added to ROUTES and so to this matrix)', () => {
    const served = servedRoutes(t).filter((r) => / \/api\//.test(r) && !DOCUMENTATION.test(r));
    const table = ROUTES.map(routerRoute).sort();
    expect({
      servedButNotInTable: served.filter((r) => !table.includes(r)),
      inTableButNotServed: table.filter((r) => !served.includes(r)),
    }).toEqual({ servedButNotInTable: [], inTableButNotServed: [] });
    expect(served.length).toBe(ROUTES.length);
  });
});
