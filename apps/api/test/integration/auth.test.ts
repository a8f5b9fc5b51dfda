import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateConnectionResponseSchema, WhoAmISchema } from '@jobtrail/domain';
import request from 'supertest';
import { ApiKeysRepository } from '../../src/auth/api-keys.repository.js';
import { bearer, expectProblem, probe, randomId } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

type Method = 'get' | 'post' | 'delete';

describe.each(kinds)('authentication, roles and tenancy on %s', (kind) => {
  let t: TestApp;
  let admin: { Authorization: string };
  let operator: { Authorization: string };
  let viewer: { Authorization: string };
  /** A connection of tenant `default` with a cancelled first job (retryable) and a pending purge. */
  let connectionId: string;
  let cancelledJobId: string;
  let pendingJobId: string;

  beforeAll(async () => {
    t = await startTestApp(kind);
    admin = bearer(t.adminKey);
    operator = bearer((await t.createKey('operator')).key);
    viewer = bearer((await t.createKey('viewer')).key);
    const created = CreateConnectionResponseSchema.parse(
      (
        await request(t.server)
          .post('/api/connections')
          .set(admin)
          .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      ).body,
    );
    connectionId = created.connection.connection_id;
    cancelledJobId = created.job.job_id;
    expect((await request(t.server).post(`/api/jobs/${cancelledJobId}/cancel`).set(admin)).status).toBe(200);
    const purge = await request(t.server).post(`/api/connections/${connectionId}/purge`).set(admin);
    expect(purge.status).toBe(202);
    pendingJobId = purge.body.job_id as string;
  });
  afterAll(() => t.close());

  const call = (method: Method, path: string, headers: Record<string, string> = {}) => {
    const req = request(t.server)[method](path).set(headers);
    return method === 'post' && path === '/api/connections'
      ? req.send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      : req;
  };

  /** Every route that needs a key, with the ids of the connection above. */
  const protectedRoutes = (): [Method, string][] => [
    ['get', '/api/me'],
    ['get', '/api/connections'],
    ['post', '/api/connections'],
    ['get', `/api/connections/${connectionId}`],
    ['delete', `/api/connections/${connectionId}`],
    ['post', `/api/connections/${connectionId}/refresh`],
    ['post', `/api/connections/${connectionId}/purge`],
    ['get', `/api/connections/${connectionId}/jobs`],
    ['get', '/api/jobs'],
    ['get', `/api/jobs/${pendingJobId}`],
    ['get', `/api/jobs/${pendingJobId}/logs`],
    ['post', `/api/jobs/${cancelledJobId}/retry`],
    ['post', `/api/jobs/${pendingJobId}/cancel`],
  ];

  const expect401 = (res: request.Response) => {
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
  };

  async function unchanged(): Promise<void> {
    // Nothing of the refused calls happened: the connection and its two jobs are as they were.
    const jobs = (await request(t.server).get(`/api/connections/${connectionId}/jobs`).set(admin)).body as {
      job_id: string;
      status: string;
    }[];
    expect(jobs.map((j) => [j.job_id, j.status])).toEqual([
      [pendingJobId, 'pending'],
      [cancelledJobId, 'cancelled'],
    ]);
    const list = (await request(t.server).get('/api/connections').set(admin)).body as unknown[];
    expect(list).toHaveLength(1);
  }

  it('answers 401 with WWW-Authenticate on every route without a key, with an unknown key or a malformed header', async () => {
    const unknown = `jt_${'x'.repeat(43)}`;
    for (const [method, path] of protectedRoutes()) {
      expect401(await call(method, path));
      expect401(await call(method, path, { Authorization: `Bearer ${unknown}` }));
      expect401(await call(method, path, { Authorization: t.adminKey }));
      expect401(
        await call(method, path, { Authorization: `Basic ${Buffer.from(`x:${t.adminKey}`).toString('base64')}` }),
      );
      expect401(await call(method, path, { Authorization: 'Bearer' }));
    }
    await unchanged();
  });

  it('answers 401 on the event stream without a valid key or token', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { Authorization: `Bearer jt_${'y'.repeat(43)}` },
      { Authorization: 'Token abc' },
    ];
    for (const headers of attempts) {
      for (const path of [
        '/api/events',
        '/api/events?token=not-a-token',
        `/api/events?connection_id=${connectionId}`,
      ]) {
        const res = await probe(t.server, 'get', path, headers);
        expect({ path, status: res.status }).toEqual({ path, status: 401 });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      }
    }
    expect401(await call('post', '/api/events/token'));
  });

  it('answers 401 to a revoked key, which worked before', async () => {
    const { key, id } = await t.createKey('admin');
    expect((await request(t.server).get('/api/me').set(bearer(key))).status).toBe(200);
    expect(await t.app.get(ApiKeysRepository).revokeKey(id)).toBe(true);
    for (const [method, path] of protectedRoutes()) expect401(await call(method, path, bearer(key)));
    expect((await probe(t.server, 'get', '/api/events', bearer(key))).status).toBe(401);
    await unchanged();
  });

  it('lets a viewer read everything', async () => {
    for (const [method, path] of protectedRoutes().filter(([m]) => m === 'get')) {
      const res = await call(method, path, viewer);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
    const me = WhoAmISchema.parse((await request(t.server).get('/api/me').set(viewer)).body);
    expect(me.role).toBe('viewer');
  });

  it('answers 403 to a viewer starting any action, and to an operator deleting a connection', async () => {
    const refused: [Method, string, { Authorization: string }][] = [
      ['post', '/api/connections', viewer],
      ['post', `/api/connections/${connectionId}/refresh`, viewer],
      ['post', `/api/connections/${connectionId}/purge`, viewer],
      ['post', `/api/jobs/${cancelledJobId}/retry`, viewer],
      ['post', `/api/jobs/${pendingJobId}/cancel`, viewer],
      ['delete', `/api/connections/${connectionId}`, viewer],
      ['delete', `/api/connections/${connectionId}`, operator],
    ];
    for (const [method, path, who] of refused) {
      const problem = expectProblem(await call(method, path, who), 403, 'forbidden');
      expect(problem.instance).toBe(path);
      expect(problem.detail).toMatch(/needs the (operator|admin) role/);
    }
    await unchanged();
  });

  it('lets an operator start actions, retry and cancel', async () => {
    const created = await call('post', '/api/connections', operator);
    expect(created.status).toBe(202);
    const id = created.body.connection.connection_id as string;
    expect((await call('post', `/api/jobs/${created.body.job.job_id}/cancel`, operator)).status).toBe(200);
    expect((await call('post', `/api/jobs/${created.body.job.job_id}/retry`, operator)).status).toBe(202);
    expect((await call('post', `/api/connections/${id}/purge`, operator)).status).toBe(202);
    expect((await call('delete', `/api/connections/${id}`, admin)).status).toBe(204);
  });

  describe('another tenant', () => {
    let other: { Authorization: string };
    beforeAll(async () => {
      other = bearer((await t.createKey('admin', 'other-tenant')).key);
    });

    /** Each route with an id, built for a given connection and job id. */
    const routesWithIds = (conn: string, job: string): [Method, string][] => [
      ['get', `/api/connections/${conn}`],
      ['delete', `/api/connections/${conn}`],
      ['post', `/api/connections/${conn}/refresh`],
      ['post', `/api/connections/${conn}/purge`],
      ['get', `/api/connections/${conn}/jobs`],
      ['get', `/api/connections/${conn}/jobs?status=pending&limit=5`],
      ['get', `/api/jobs/${job}`],
      ['get', `/api/jobs/${job}/logs`],
      ['post', `/api/jobs/${job}/retry`],
      ['post', `/api/jobs/${job}/cancel`],
    ];

    it('gets a 404 identical to that of an id that does not exist, on every endpoint', async () => {
      const missingConn = randomId();
      const missingJob = randomId();
      for (const job of [cancelledJobId, pendingJobId]) {
        const theirs = routesWithIds(connectionId, job);
        const none = routesWithIds(missingConn, missingJob);
        for (const [i, [method, path]] of theirs.entries()) {
          const a = await call(method, path, other);
          const b = await call(none[i]![0], none[i]![1], other);
          expectProblem(a, 404, 'not-found');
          expectProblem(b, 404, 'not-found');
          const strip = (text: string) =>
            text
              .replaceAll(connectionId, 'ID')
              .replaceAll(job, 'ID')
              .replaceAll(missingConn, 'ID')
              .replaceAll(missingJob, 'ID');
          expect({ path, body: strip(a.text) }).toEqual({ path, body: strip(b.text) });
          const { instance: instanceA, ...restA } = JSON.parse(a.text) as Record<string, unknown>;
          const { instance: instanceB, ...restB } = JSON.parse(b.text) as Record<string, unknown>;
          expect(restA).toEqual(restB);
          expect(instanceA).toBe(path.split('?')[0]);
          expect(instanceB).toBe(none[i]![1].split('?')[0]);
          expect(a.headers['content-type']).toBe(b.headers['content-type']);
          expect(a.headers['content-length']).toBe(b.headers['content-length']);
        }
      }
      await unchanged();
    });

    it('also with an Idempotency-Key, and as an operator or a viewer', async () => {
      const operatorB = bearer((await t.createKey('operator', 'other-tenant')).key);
      const viewerB = bearer((await t.createKey('viewer', 'other-tenant')).key);
      for (const [method, path] of routesWithIds(connectionId, cancelledJobId).filter(([m]) => m === 'post')) {
        expectProblem(await call(method, path, { ...operatorB, 'Idempotency-Key': 'k-1' }), 404, 'not-found');
      }
      for (const [method, path] of routesWithIds(connectionId, pendingJobId).filter(([m]) => m === 'get')) {
        expectProblem(await call(method, path, viewerB), 404, 'not-found');
      }
      await unchanged();
    });

    it("does not see the tenant's connections or jobs in lists and searches", async () => {
      expect((await request(t.server).get('/api/connections').set(other)).body).toEqual([]);
      expect((await request(t.server).get('/api/jobs').set(other)).body).toEqual([]);
      expect((await request(t.server).get(`/api/jobs?connection_id=${connectionId}`).set(other)).body).toEqual([]);
      expect((await request(t.server).get(`/api/jobs?job_id=${pendingJobId}`).set(other)).body).toEqual([]);
      expect(
        (
          await request(t.server)
            .get(`/api/jobs?job_id=${pendingJobId.slice(0, 4)}`)
            .set(other)
        ).body,
      ).toEqual([]);
      const me = WhoAmISchema.parse((await request(t.server).get('/api/me').set(other)).body);
      expect(me.tenant_name).toBe('other-tenant');
    });
  });

  it('keeps /health public', async () => {
    expect((await request(t.server).get('/api/health')).status).toBe(200);
  });
});
