import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BulkRetryResponseSchema, JobStatsSchema, jobError, type Job } from '@jobtrail/domain';
import request from 'supertest';
import { bearer, insertConnection, insertJobs, seededJob, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();
const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

describe.each(kinds)('bulk retry, job filters and stats on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind); // no worker: new jobs stay pending
  });
  afterAll(() => t.close());

  /** A tenant with `n` connections, each with one failed refresh (institution-unavailable). */
  async function tenantWithFailures(name: string, n: number, code = 'institution-unavailable') {
    const k = await tenantKey(t, name, 'operator');
    const jobs: Job[] = [];
    for (let i = 0; i < n; i++) {
      const connectionId = await insertConnection(t, k.tenantId, T0 + i);
      const job = seededJob(connectionId, T0 + 10_000 + i * 1_000, 'failed', 'refresh', i);
      jobs.push({ ...job, error: jobError(code, 'seeded') });
    }
    await insertJobs(t, k.tenantId, jobs);
    return { auth: bearer(k.key), jobs, tenantId: k.tenantId };
  }
  const bulk = (auth: Record<string, string>, body: object) =>
    request(t.server).post('/api/jobs/retry').set(auth).send(body);

  it('dry run counts, then retries each newest failure once; a second call retries nothing', async () => {
    const { auth, jobs, tenantId } = await tenantWithFailures(`bulk-${kind}`, 4);
    // A newer job of the same action follows the first failure: that one is superseded.
    await insertJobs(t, tenantId, [seededJob(jobs[0]!.connectionId, T0 + 100_000, 'success', 'refresh')]);
    // A cancelled purge on another connection does not match `status: failed`.
    await insertJobs(t, tenantId, [seededJob(jobs[1]!.connectionId, T0 + 100_001, 'cancelled', 'purge')]);

    const dry = BulkRetryResponseSchema.parse((await bulk(auth, { dry_run: true }).expect(200)).body);
    expect(dry).toMatchObject({ matched: 4, retried: 0, skipped: { superseded: 1 }, dry_run: true });
    expect(dry.job_ids.sort()).toEqual(
      jobs
        .slice(1)
        .map((j) => j.id)
        .sort(),
    );

    const done = BulkRetryResponseSchema.parse(
      (await bulk(auth, { error_code: 'institution-unavailable' }).expect(200)).body,
    );
    expect(done).toMatchObject({ matched: 4, retried: 3, skipped: { superseded: 1 } });
    const created = await Promise.all(
      done.job_ids.map(async (id) => (await request(t.server).get(`/api/jobs/${id}`).set(auth).expect(200)).body),
    );
    expect(created.map((j) => j.retry_of).sort()).toEqual(
      jobs
        .slice(1)
        .map((j) => j.id)
        .sort(),
    );
    expect(created.every((j) => j.status === 'pending' && j.action === 'refresh')).toBe(true);

    const again = BulkRetryResponseSchema.parse((await bulk(auth, {}).expect(200)).body);
    expect(again).toMatchObject({ matched: 4, retried: 0, skipped: { superseded: 4 }, job_ids: [] });

    const cancelled = BulkRetryResponseSchema.parse((await bulk(auth, { status: 'cancelled' }).expect(200)).body);
    expect(cancelled).toMatchObject({ matched: 1, retried: 1 });
  });

  it('two calls at once with the same filter never retry a job twice', async () => {
    const { auth, jobs } = await tenantWithFailures(`bulk-race-${kind}`, 30);
    const [a, b] = await Promise.all([bulk(auth, {}), bulk(auth, {})]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const ids = [...a.body.job_ids, ...b.body.job_ids];
    expect(a.body.retried + b.body.retried).toBe(30);
    expect(new Set(ids).size).toBe(30);
    const retried = await request(t.server).get('/api/jobs?status=pending&limit=200').set(auth).expect(200);
    const retryOf = retried.body.map((j: { retry_of: string }) => j.retry_of);
    expect(retryOf.sort()).toEqual(jobs.map((j) => j.id).sort());
  });

  it('an invalid-credentials failure is skipped until the credentials change', async () => {
    const { auth, jobs } = await tenantWithFailures(`bulk-creds-${kind}`, 2, 'invalid-credentials');
    const first = (await bulk(auth, { error_code: 'invalid-credentials' }).expect(200)).body;
    expect(first).toMatchObject({ matched: 2, retried: 0, skipped: { 'credentials-update-required': 2 } });
    await request(t.server)
      .patch(`/api/connections/${jobs[0]!.connectionId}`)
      .set(auth)
      .send({ password: 'new' })
      .expect(202);
    // The PATCH started a refresh: newer than the failure, so nothing is left to retry there.
    const second = (await bulk(auth, { error_code: 'invalid-credentials' }).expect(200)).body;
    expect(second).toMatchObject({ retried: 0, skipped: { superseded: 1, 'credentials-update-required': 1 } });
  });

  it('honours Idempotency-Key, validates its body and needs an operator key', async () => {
    const { auth } = await tenantWithFailures(`bulk-idem-${kind}`, 2);
    const key = { ...auth, 'Idempotency-Key': `bulk-${kind}` };
    const one = await bulk(key, {}).expect(200);
    const two = await bulk(key, {}).expect(200);
    expect(two.body).toEqual(one.body);
    expect(one.body.retried).toBe(2);
    expect((await bulk(auth, { status: 'success' })).status).toBe(400);
    expect((await bulk(auth, { from: '2025-02-01T00:00:00Z', to: '2025-01-01T00:00:00Z' })).status).toBe(400);
    const viewer = await t.createKey('viewer', `bulk-idem-${kind}`);
    expect((await bulk(bearer(viewer.key), {})).status).toBe(403);
  });

  it('GET /jobs filters by error code and institution; GET /jobs/stats counts a range', async () => {
    const { auth, jobs } = await tenantWithFailures(`stats-${kind}`, 3, 'maintenance');
    const list = async (q: string) =>
      (await request(t.server).get(`/api/jobs?${q}`).set(auth).expect(200)).body.map(
        (j: { job_id: string }) => j.job_id,
      );
    expect((await list('error_code=maintenance')).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(await list('error_code=invalid-credentials')).toEqual([]);
    expect((await list('institution_id=sandbox')).length).toBe(3);
    expect(await list('institution_id=elsewhere')).toEqual([]);

    const stats = JobStatsSchema.parse(
      (
        await request(t.server)
          .get(`/api/jobs/stats?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 3_600_000).toISOString()}`)
          .set(auth)
          .expect(200)
      ).body,
    );
    expect(stats).toMatchObject({
      total: 3,
      by_status: { failed: 3 },
      by_error_code: [{ code: 'maintenance', count: 3 }],
      per_hour: [{ hour: new Date(T0).toISOString(), by_status: { failed: 3 } }],
    });
    expect((await request(t.server).get('/api/jobs/stats?from=nope').set(auth)).status).toBe(400);
  });
});
