/**
 * HTTP hardening: security headers on every answer, the CORS allow-list, body limits (413, 415),
 * unknown methods and routes (405 with Allow, 404), rate limits per key and refresh limits per
 * connection (429 with Retry-After, documented), and the retention cleanup with `expires_at`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, type Job } from '@jobtrail/domain';
import { RetentionSweeper, sqlText, type Transaction } from '@jobtrail/engine';
import { LOGGER } from '../../src/common/tokens.js';
import { ROUTES } from '../../src/openapi/openapi-document.js';
import { insertConnection, insertJobs, randomId, seededJob, tenantKey } from '../support/api-helpers.js';
import { waitFor } from '../support/wait.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { problemViolations } from './support/checks.js';
import { bearer, createFixture, postJson } from './support/fixtures.js';
import { send, type RawRequest, type RawResponse } from './support/http.js';

const kinds = await databaseKinds();
const DAY = 86_400_000;

/** Asserts a clean problem+json answer with this status and code; returns its body. */
function expectProblem(res: RawResponse, status: number, code: string): Record<string, unknown> {
  expect({ status: res.status, text: res.text.slice(0, 300) }).toEqual({ status, text: expect.any(String) });
  expect(problemViolations(res)).toEqual([]);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body.code).toBe(code);
  return body;
}

/** Asserts the security headers every answer carries. */
function expectSecurityHeaders(res: RawResponse, what: string, api = true): void {
  const got = {
    what,
    nosniff: res.headers['x-content-type-options'],
    frames: res.headers['x-frame-options'],
    poweredBy: res.headers['x-powered-by'],
    cache: api ? /\bno-store\b/.test(String(res.headers['cache-control'])) : true,
  };
  expect(got).toEqual({ what, nosniff: 'nosniff', frames: 'DENY', poweredBy: undefined, cache: true });
}

describe(`HTTP hardening on ${kinds[0]}`, () => {
  let t: TestApp;
  let admin: Record<string, string>;
  let connectionId: string;
  let jobId: string;

  beforeAll(async () => {
    t = await startTestApp(kinds[0]!);
    admin = bearer(t.adminKey);
    const f = await createFixture(t.server, t.adminKey);
    connectionId = f.connectionId;
    jobId = f.pendingJobId;
  });
  afterAll(() => t.close());

  const json = (body: unknown) => ({ 'Content-Type': 'application/json' as const, body: JSON.stringify(body) });

  it('sends the security headers on every answer: successes, errors, 404s, 405s, streams, preflights, documentation', async () => {
    const requests: [string, RawRequest, boolean][] = [
      ['health', { method: 'GET', path: '/api/health' }, true],
      ['metrics', { method: 'GET', path: '/api/metrics' }, true],
      ['me', { method: 'GET', path: '/api/me', headers: admin }, true],
      ['list', { method: 'GET', path: '/api/connections', headers: admin }, true],
      [
        'created',
        {
          method: 'POST',
          path: '/api/connections',
          headers: { ...admin, 'Content-Type': 'application/json' },
          body: JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'p' }),
        },
        true,
      ],
      ['stream', { method: 'GET', path: '/api/events', headers: admin }, true],
      ['401', { method: 'GET', path: '/api/connections' }, true],
      [
        '403',
        {
          method: 'DELETE',
          path: `/api/connections/${connectionId}`,
          headers: bearer((await t.createKey('viewer')).key),
        },
        true,
      ],
      ['400', { method: 'GET', path: '/api/connections?limit=0', headers: admin }, true],
      ['404 resource', { method: 'GET', path: `/api/jobs/${randomId()}`, headers: admin }, true],
      ['404 route', { method: 'GET', path: '/api/nothing-here' }, true],
      ['404 route under a resource', { method: 'GET', path: `/api/jobs/${jobId}/nothing` }, true],
      ['405', { method: 'PUT', path: '/api/connections', headers: admin }, true],
      ['409', { method: 'POST', path: `/api/jobs/${jobId}/retry`, headers: admin }, true],
      [
        '413',
        {
          method: 'POST',
          path: '/api/connections',
          headers: { ...admin, 'Content-Type': 'application/json' },
          body: 'x'.repeat(20_000),
        },
        true,
      ],
      [
        '415',
        { method: 'POST', path: '/api/connections', headers: { ...admin, 'Content-Type': 'text/plain' }, body: 'x' },
        true,
      ],
      [
        'preflight',
        {
          method: 'OPTIONS',
          path: '/api/connections',
          headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Method': 'POST' },
        },
        true,
      ],
      ['head', { method: 'HEAD', path: '/api/health' }, true],
      ['openapi', { method: 'GET', path: '/api/docs/openapi.json' }, true],
      ['outside the API', { method: 'GET', path: '/' }, false],
      ['outside the API, unknown', { method: 'POST', path: '/whatever' }, false],
    ];
    for (const [what, req, api] of requests) {
      const res = await send(t.server, req);
      expectSecurityHeaders(res, `${what} (${res.status})`, api);
    }
  });

  it('allows no origin by default (CORS): no Access-Control-Allow-Origin, on requests or preflights', async () => {
    for (const origin of [
      'https://ops.example',
      'https://evil.example',
      'null',
      `http://127.0.0.1:${(t.server.address() as { port: number }).port}`,
    ]) {
      const get = await send(t.server, { method: 'GET', path: '/api/me', headers: { ...admin, Origin: origin } });
      expect(get.status).toBe(200);
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await send(t.server, {
        method: 'OPTIONS',
        path: '/api/connections',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type',
        },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('answers 413 to a body over the limit, as problem+json, and accepts one just under it', async () => {
    const limit = t.config.bodyLimitBytes;
    const valid = JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'p' });
    // Whitespace is valid JSON: the same body padded to exactly the limit, and one byte over.
    const atLimit = valid.replace('{', `{${' '.repeat(limit - valid.length)}`);
    expect(Buffer.byteLength(atLimit)).toBe(limit);
    const ok = await send(t.server, {
      method: 'POST',
      path: '/api/connections',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: atLimit,
    });
    expect(ok.status).toBe(202);
    const over = await send(t.server, {
      method: 'POST',
      path: '/api/connections',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: ` ${atLimit}`,
    });
    expectProblem(over, 413, 'payload-too-large');
    // Without a Content-Length (chunked), the limit holds as well; and on any route.
    expectProblem(
      await send(t.server, {
        method: 'POST',
        path: '/api/connections',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: ` ${atLimit}`,
        chunked: true,
      }),
      413,
      'payload-too-large',
    );
    expectProblem(
      await send(t.server, {
        method: 'POST',
        path: `/api/connections/${connectionId}/refresh`,
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: `{"a":"${'x'.repeat(limit)}"}`,
      }),
      413,
      'payload-too-large',
    );
    // Without a key too: the body is refused before anything reads it.
    expectProblem(
      await send(t.server, {
        method: 'POST',
        path: '/api/connections',
        headers: { 'Content-Type': 'application/json' },
        body: ` ${atLimit}`,
      }),
      413,
      'payload-too-large',
    );
  });

  it('answers 415 to a body that is not JSON, as problem+json', async () => {
    const body = 'institution_id=sandbox&login_id=user-ok&password=p';
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'text/json',
      'application/jsonp',
      '',
    ]) {
      const res = await send(t.server, {
        method: 'POST',
        path: '/api/connections',
        headers: { ...admin, 'Content-Type': type },
        body,
      });
      expect({ type, status: res.status }).toEqual({ type, status: 415 });
      expectProblem(res, 415, 'unsupported-media-type');
    }
    for (const charset of ['latin1', 'iso-8859-1', 'x-unknown']) {
      const res = await send(t.server, {
        method: 'POST',
        path: '/api/connections',
        headers: { ...admin, 'Content-Type': `application/json; charset=${charset}` },
        body: '{}',
      });
      expect({ charset, status: res.status }).toEqual({ charset, status: 415 });
      expectProblem(res, 415, 'unsupported-media-type');
    }
    // The JSON types themselves are accepted.
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/problem+json',
    ]) {
      const res = await send(t.server, {
        method: 'POST',
        path: '/api/connections',
        headers: { ...admin, 'Content-Type': type },
        ...json({ institution_id: 'sandbox', login_id: 'user-ok', password: 'p' }),
      });
      expect({ type, status: res.status }).toEqual({ type, status: 202 });
    }
  });

  it('answers 405 with Allow to a known path with another method, as problem+json', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/api/connections', 'GET, POST'],
      ['PATCH', '/api/connections', 'GET, POST'],
      ['DELETE', '/api/connections', 'GET, POST'],
      ['PUT', `/api/connections/${connectionId}`, 'GET, PATCH, DELETE'],
      ['POST', `/api/connections/${connectionId}`, 'GET, PATCH, DELETE'],
      ['GET', `/api/connections/${connectionId}/refresh`, 'POST'],
      ['DELETE', `/api/jobs/${jobId}`, 'GET'],
      ['PATCH', `/api/jobs/${jobId}`, 'GET'],
      ['GET', `/api/jobs/${jobId}/cancel`, 'POST'],
      ['POST', '/api/health', 'GET'],
      ['POST', '/api/metrics', 'GET'],
      ['DELETE', '/api/events', 'GET'],
      ['GET', '/api/events/token', 'POST'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await send(t.server, { method, path, headers: admin });
      const body = expectProblem(res, 405, 'method-not-allowed');
      const methods = String(res.headers.allow).split(', ').sort().join(', ');
      expect({ method, path, allow: methods }).toEqual({ method, path, allow: allow.split(', ').sort().join(', ') });
      expect(body.instance).toBe(path);
    }
  });

  it('answers 404 route-not-found to unknown paths, with or without a key, as problem+json', async () => {
    for (const path of [
      '/api/nothing',
      '/api',
      '/api/',
      '/api/v2/connections',
      `/api/connections/${connectionId}/nothing`,
      `/api/jobs/${jobId}/logs/1`,
      '/api/connections/a/b/c/d',
      '/api/%2e%2e/etc/passwd',
      '/api/.env',
      '/api/docs/../../package.json',
    ]) {
      for (const headers of [{}, admin]) {
        const res = await send(t.server, { method: 'GET', path, headers });
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
        expectProblem(res, 404, 'route-not-found');
        expect(res.headers.allow).toBeUndefined();
      }
    }
  });

  it('documents 429 (and the body errors 400, 413, 415) for every operation that needs a key', async () => {
    const doc = JSON.parse((await send(t.server, { method: 'GET', path: '/api/docs/openapi.json' })).text) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const missing: string[] = [];
    for (const route of ROUTES) {
      const responses = Object.keys(doc.paths[route.path]?.[route.method]?.responses ?? {});
      const wanted =
        route.role === null ? ['400', '413', '415', '500'] : ['400', '401', '403', '413', '415', '429', '500', '503'];
      for (const status of wanted)
        if (!responses.includes(status)) missing.push(`${route.method.toUpperCase()} ${route.path} ${status}`);
    }
    expect(missing).toEqual([]);
  });
});

describe(`CORS allow-list on ${kinds[0]}`, () => {
  let t: TestApp;
  const ALLOWED = 'https://ops.example';
  beforeAll(async () => {
    t = await startTestApp(kinds[0]!, { corsOrigins: [ALLOWED] });
  });
  afterAll(() => t.close());

  it('allows only the configured origin, on requests, errors and preflights', async () => {
    const get = await send(t.server, {
      method: 'GET',
      path: '/api/me',
      headers: { ...bearer(t.adminKey), Origin: ALLOWED },
    });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(get.headers.vary)).toMatch(/\bOrigin\b/);
    expect(String(get.headers['access-control-expose-headers'])).toMatch(/Retry-After/);
    // Errors too, so that the browser client can read the problem.
    const unauthorized = await send(t.server, { method: 'GET', path: '/api/me', headers: { Origin: ALLOWED } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['access-control-allow-origin']).toBe(ALLOWED);
    const preflight = await send(t.server, {
      method: 'OPTIONS',
      path: '/api/connections',
      headers: {
        Origin: ALLOWED,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type,idempotency-key',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(
      String(preflight.headers['access-control-allow-methods'])
        .split(',')
        .map((m) => m.trim()),
    ).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toMatch(/authorization/);
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toMatch(/idempotency-key/);
    expectSecurityHeaders(preflight, 'preflight');
    // Never a wildcard, never credentials (the API takes keys in a header, not cookies).
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();

    for (const origin of [
      'https://evil.example',
      'https://ops.example.evil.example',
      'http://ops.example',
      'https://OPS.example.',
      'null',
    ]) {
      const res = await send(t.server, {
        method: 'GET',
        path: '/api/me',
        headers: { ...bearer(t.adminKey), Origin: origin },
      });
      expect({ origin, allow: res.headers['access-control-allow-origin'] }).toEqual({ origin, allow: undefined });
      const pre = await send(t.server, {
        method: 'OPTIONS',
        path: '/api/connections',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
      });
      expect({
        origin,
        allow: pre.headers['access-control-allow-origin'],
        methods: pre.headers['access-control-allow-methods'],
      }).toEqual({ origin, allow: undefined, methods: undefined });
    }
  });
});

describe(`rate limit per key on ${kinds[0]}`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kinds[0]!, { limits: { requestsPerMinute: 5, refreshesPerHour: 1_000_000 } });
  });
  afterAll(() => t.close());

  it('answers the 6th request of a key in a minute with 429 problem+json and Retry-After; other keys and public routes go on', async () => {
    const key = (await t.createKey('viewer')).key;
    const other = (await t.createKey('viewer')).key;
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(t.server, {
        method: 'GET',
        path: i % 2 ? '/api/me' : '/api/connections',
        headers: bearer(key),
      });
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('5');
      remaining.push(String(res.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    const limited = await send(t.server, { method: 'GET', path: '/api/me', headers: bearer(key) });
    expectProblem(limited, 429, 'rate-limited');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expectSecurityHeaders(limited, '429');
    // Every route of the key is limited.
    for (const path of ['/api/connections', '/api/jobs', `/api/jobs/${randomId()}`])
      expectProblem(await send(t.server, { method: 'GET', path, headers: bearer(key) }), 429, 'rate-limited');
    expectProblem(
      await send(t.server, { method: 'POST', path: '/api/events/token', headers: bearer(key) }),
      429,
      'rate-limited',
    );
    // Another key of the same tenant is not affected, nor are public routes.
    expect((await send(t.server, { method: 'GET', path: '/api/me', headers: bearer(other) })).status).toBe(200);
    expect((await send(t.server, { method: 'GET', path: '/api/health' })).status).toBe(200);
    expect((await send(t.server, { method: 'GET', path: '/api/metrics' })).status).toBe(200);
  });
});

describe.each(kinds)('refresh limit per connection on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind, { limits: { requestsPerMinute: 1_000_000, refreshesPerHour: 2 } });
  });
  afterAll(() => t.close());

  const cancel = (jobId: string) => postJson(t.server, t.adminKey, `/api/jobs/${jobId}/cancel`, undefined, 200);

  it('answers the third refresh of a connection within the hour with 429 and Retry-After, when no refresh is active', async () => {
    // Refresh 1: the one the creation started.
    const created = await postJson<{ connection: { connection_id: string }; job: { job_id: string } }>(
      t.server,
      t.adminKey,
      '/api/connections',
      { institution_id: 'sandbox', login_id: 'user-ok', password: 'p' },
      202,
    );
    const id = created.connection.connection_id;
    await cancel(created.job.job_id);
    // Refresh 2.
    const second = await postJson<{ job_id: string }>(
      t.server,
      t.adminKey,
      `/api/connections/${id}/refresh`,
      undefined,
      202,
    );
    await cancel(second.job_id);
    // Refresh 3: over the limit.
    const third = await send(t.server, {
      method: 'POST',
      path: `/api/connections/${id}/refresh`,
      headers: bearer(t.adminKey),
    });
    expectProblem(third, 429, 'refresh-limit-exceeded');
    // The headers describe the connection's limit, not the key's bucket.
    expect(third.headers['ratelimit-limit']).toBe('2');
    expect(third.headers['ratelimit-remaining']).toBe('0');
    const retryAfter = Number(third.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(3_500);
    expect(retryAfter).toBeLessThanOrEqual(3_600);
    // A retry is a refresh too; a purge is not limited; another connection is not affected.
    expectProblem(
      await send(t.server, { method: 'POST', path: `/api/jobs/${second.job_id}/retry`, headers: bearer(t.adminKey) }),
      429,
      'refresh-limit-exceeded',
    );
    // Another tenant learns nothing of this connection, its limit included: 404 like a missing one.
    const stranger = await t.createKey('admin', 'stranger-tenant');
    expectProblem(
      await send(t.server, { method: 'POST', path: `/api/connections/${id}/refresh`, headers: bearer(stranger.key) }),
      404,
      'not-found',
    );
    expect(
      (await send(t.server, { method: 'POST', path: `/api/connections/${id}/purge`, headers: bearer(t.adminKey) }))
        .status,
    ).toBe(202);
    const other = await postJson<{ connection: { connection_id: string }; job: { job_id: string } }>(
      t.server,
      t.adminKey,
      '/api/connections',
      { institution_id: 'sandbox', login_id: 'user-ok', password: 'p' },
      202,
    );
    await cancel(other.job.job_id);
    expect(
      (
        await send(t.server, {
          method: 'POST',
          path: `/api/connections/${other.connection.connection_id}/refresh`,
          headers: bearer(t.adminKey),
        })
      ).status,
    ).toBe(202);
    // No refresh job was made by the refused calls.
    const history = JSON.parse(
      (
        await send(t.server, {
          method: 'GET',
          path: `/api/connections/${id}/jobs?action=refresh`,
          headers: bearer(t.adminKey),
        })
      ).text,
    ) as unknown[];
    expect(history).toHaveLength(2);
  });
});

describe.each(kinds)('retention on %s', (kind) => {
  let t: TestApp;
  let tenantId: string;
  const retention = { successDays: 90, failedDays: 365, cancelledDays: 30, sweepMs: 3_600_000 };

  beforeAll(async () => {
    t = await startTestApp(kind, { retention });
    tenantId = (await tenantKey(t, 'default')).tenantId;
  });
  afterAll(() => t.close());

  /** A terminal job of `status` that finished `ageDays` ago (a little more or less than a whole number). */
  function finished(connectionId: string, status: 'success' | 'failed' | 'cancelled', ageMs: number, now: number): Job {
    const finishedAt = now - ageMs;
    const job = seededJob(connectionId, finishedAt - 4_000, status, 'refresh');
    return {
      ...job,
      finishedAt: new Date(finishedAt),
      updatedAt: new Date(finishedAt),
      error: status === 'failed' ? jobError('invalid-credentials', 'seeded') : job.error,
    };
  }

  it('deletes, in batches, the jobs finished longer ago than their status keeps them, with their events; keeps the others; shows expires_at', async () => {
    const now = Date.now();
    const connectionId = await insertConnection(t, tenantId, now - 400 * DAY);
    const expired: Job[] = [];
    const kept: Job[] = [];
    // Well over one batch (1,000) of expired successes, and some of each status on either side of its limit.
    for (let i = 0; i < 2_300; i++) expired.push(finished(connectionId, 'success', 90 * DAY + 60_000 + i * 1_000, now));
    for (let i = 0; i < 20; i++) {
      expired.push(finished(connectionId, 'failed', 365 * DAY + 60_000 + i * 3_600_000, now));
      expired.push(finished(connectionId, 'cancelled', 30 * DAY + 60_000 + i * 3_600_000, now));
      kept.push(finished(connectionId, 'success', 90 * DAY - 60_000 - i * 3_600_000, now));
      kept.push(finished(connectionId, 'failed', 365 * DAY - 60_000 - i * 3_600_000, now));
      kept.push(finished(connectionId, 'cancelled', 30 * DAY - 60_000 - i * 3_600_000, now));
    }
    // Old jobs that never finished are never deleted.
    const oldPending = seededJob(connectionId, now - 1_000 * DAY, 'pending', 'purge');
    const oldProcessing = seededJob(connectionId, now - 1_000 * DAY + 1, 'processing', 'refresh');
    kept.push(oldPending, oldProcessing);
    await insertJobs(t, tenantId, [...expired, ...kept], (job) => [
      { kind: 'created', at: job.createdAt, actor: 'seed', reason: 'requested' },
      { kind: 'log', at: job.createdAt, level: 'info', step: null, message: 'seeded' },
    ]);
    // The newest expired job is the connection's latest: the cleanup must let go of it.
    await t.db.execute('UPDATE connections SET latest_job_id = $1 WHERE id = $2', [expired[0]!.id, connectionId]);

    // Count the statements that delete jobs, and what each deletes.
    const deletes: number[] = [];
    const realTransaction = t.db.transaction.bind(t.db);
    const spied = t.db as unknown as { transaction: typeof t.db.transaction };
    spied.transaction = (<T>(fn: (tx: Transaction) => Promise<T>) =>
      realTransaction((tx) =>
        fn({
          manager: tx.manager,
          queryBuilt: (built) => tx.queryBuilt(built),
          query: (sql, params) => tx.query(sql, params),
          queryAndCommit: (sql, params) => tx.queryAndCommit(sql, params),
          execute: async (sql, params) => {
            const n = await tx.execute(sql, params);
            if (/^DELETE FROM jobs\b/.test(sqlText(sql))) deletes.push(n);
            return n;
          },
        }),
      )) as typeof t.db.transaction;
    let deleted: number;
    try {
      deleted = await new RetentionSweeper(t.db, t.config.retention, t.app.get(LOGGER)).purgeExpired();
    } finally {
      delete (spied as { transaction?: unknown }).transaction;
    }
    expect(deleted).toBe(expired.length);
    expect(deletes.reduce((a, b) => a + b, 0)).toBe(expired.length);
    expect(deletes.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...deletes)).toBeLessThanOrEqual(1_000);

    const remaining = new Set(
      (await t.db.query<{ id: string }>('SELECT id FROM jobs WHERE connection_id = $1', [connectionId])).map(
        (r) => r.id,
      ),
    );
    expect(expired.filter((j) => remaining.has(j.id))).toEqual([]);
    expect(kept.filter((j) => !remaining.has(j.id)).map((j) => j.id)).toEqual([]);
    const eventJobs = new Set(
      (
        await t.db.query<{ job_id: string }>('SELECT DISTINCT job_id FROM job_events WHERE connection_id = $1', [
          connectionId,
        ])
      ).map((r) => r.job_id),
    );
    expect(expired.filter((j) => eventJobs.has(j.id)).length).toBe(0);
    expect(kept.filter((j) => !eventJobs.has(j.id)).length).toBe(0);
    // A second run finds nothing more.
    expect(await new RetentionSweeper(t.db, t.config.retention, t.app.get(LOGGER)).purgeExpired()).toBe(0);

    // Through the API: the deleted are gone, the kept show when they will go.
    const admin = bearer(t.adminKey);
    expect((await send(t.server, { method: 'GET', path: `/api/jobs/${expired[0]!.id}`, headers: admin })).status).toBe(
      404,
    );
    const connection = await send(t.server, {
      method: 'GET',
      path: `/api/connections/${connectionId}`,
      headers: admin,
    });
    expect(connection.status).toBe(200);
    const days: Record<string, number> = { success: 90, failed: 365, cancelled: 30 };
    for (const job of kept) {
      const res = await send(t.server, { method: 'GET', path: `/api/jobs/${job.id}`, headers: admin });
      expect(res.status).toBe(200);
      const detail = JSON.parse(res.text) as { status: string; finished_at: string | null; expires_at: string | null };
      const want = job.finishedAt ? new Date(job.finishedAt.getTime() + days[job.status]! * DAY).toISOString() : null;
      expect({ id: job.id, status: detail.status, expires_at: detail.expires_at }).toEqual({
        id: job.id,
        status: job.status,
        expires_at: want,
      });
      if (detail.finished_at)
        expect(Date.parse(detail.expires_at!) - Date.parse(detail.finished_at)).toBe(days[job.status]! * DAY);
    }
  });

  it('runs the cleanup periodically in a worker process', async () => {
    const w = await startTestApp(kind, { role: 'all', retention: { ...retention, sweepMs: 300 } });
    try {
      const tenant = (await tenantKey(w, 'default')).tenantId;
      const now = Date.now();
      const cid = await insertConnection(w, tenant, now - 400 * DAY);
      const old = finished(cid, 'success', 91 * DAY, now);
      const recent = finished(cid, 'success', 89 * DAY, now);
      await insertJobs(w, tenant, [old, recent]);
      await waitFor(
        'the periodic cleanup',
        async () => ((await w.db.query('SELECT id FROM jobs WHERE id = $1', [old.id])).length === 0 ? true : undefined),
        10_000,
        100,
      );
      expect(await w.db.query('SELECT id FROM jobs WHERE id = $1', [recent.id])).toHaveLength(1);
    } finally {
      await w.close();
    }
  });
});
