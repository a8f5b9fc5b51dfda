import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectionSchema, CreateConnectionResponseSchema, JobDetailSchema, JobSummarySchema } from '@jobtrail/domain';
import request from 'supertest';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

describe.each(kinds)('connections and actions on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind);
    auth = { Authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(() => t.close());

  const createConnection = async (login = 'user-ok') => {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: login, password: 's3cret' });
    expect(res.status).toBe(202);
    return CreateConnectionResponseSchema.parse(res.body);
  };

  it('POST /connections creates the connection and its first pending refresh job', async () => {
    const { connection, job } = await createConnection();
    expect(job).toMatchObject({
      action: 'refresh',
      status: 'pending',
      attempt: 0,
      connection_id: connection.connection_id,
    });
    expect(connection.latest_job?.job_id).toBe(job.job_id);
    const read = await request(t.server).get(`/api/connections/${connection.connection_id}`).set(auth);
    expect(read.status).toBe(200);
    expect(ConnectionSchema.parse(read.body)).toMatchObject({
      connection_id: connection.connection_id,
      login_id: 'user-ok',
      institution_id: 'sandbox',
    });
    expect(JSON.stringify(read.body)).not.toContain('s3cret');
  });

  it('refresh answers 200 with the pending job instead of a duplicate; purge is a separate action', async () => {
    const { connection, job } = await createConnection();
    const again = await request(t.server).post(`/api/connections/${connection.connection_id}/refresh`).set(auth);
    expect(again.status).toBe(200);
    expect(again.body.job_id).toBe(job.job_id);
    const purge = await request(t.server).post(`/api/connections/${connection.connection_id}/purge`).set(auth);
    expect(purge.status).toBe(202);
    expect(JobSummarySchema.parse(purge.body)).toMatchObject({ action: 'purge', status: 'pending' });
  });

  it('GET /jobs/:id gives the detail; cancel then retry makes a linked job', async () => {
    const { job } = await createConnection();
    const detail = await request(t.server).get(`/api/jobs/${job.job_id}`).set(auth);
    expect(detail.status).toBe(200);
    expect(JobDetailSchema.parse(detail.body).steps.map((s) => s.name)).toEqual([
      'verify-credentials',
      'retrieve-accounts',
      'retrieve-transactions',
    ]);

    const retryPending = await request(t.server).post(`/api/jobs/${job.job_id}/retry`).set(auth);
    expect(retryPending.status).toBe(409);
    expect(retryPending.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(retryPending.body).toMatchObject({ code: 'illegal-transition', status: 409 });
    expect(retryPending.body.detail).toMatch(/only failed or cancelled jobs can be retried/);

    const cancel = await request(t.server).post(`/api/jobs/${job.job_id}/cancel`).set(auth);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    const cancelAgain = await request(t.server).post(`/api/jobs/${job.job_id}/cancel`).set(auth);
    expect(cancelAgain.status).toBe(409);

    const retry = await request(t.server).post(`/api/jobs/${job.job_id}/retry`).set(auth);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ retry_of: job.job_id, status: 'pending', action: 'refresh' });
    const after = JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${job.job_id}`).set(auth)).body);
    expect(after.status).toBe('cancelled');
    expect(after.transitions).toEqual([
      expect.objectContaining({ from: 'pending', to: 'cancelled', reason: 'cancelled' }),
    ]);

    const logs = await request(t.server).get(`/api/jobs/${job.job_id}/logs`).set(auth);
    expect(logs.status).toBe(200);
    expect(logs.body.map((l: { message: string }) => l.message)).toEqual([
      expect.stringContaining('refresh requested'),
      expect.stringContaining('cancel requested'),
    ]);
  });

  it('ids in paths are matched whatever the case of their hex digits', async () => {
    const { connection, job } = await createConnection();
    expect((await request(t.server).get(`/api/jobs/${job.job_id.toUpperCase()}`).set(auth)).body.job_id).toBe(
      job.job_id,
    );
    expect(
      (await request(t.server).get(`/api/connections/${connection.connection_id.toUpperCase()}/jobs`).set(auth)).status,
    ).toBe(200);
  });

  it('DELETE removes the connection and its jobs', async () => {
    const { connection, job } = await createConnection();
    expect((await request(t.server).delete(`/api/connections/${connection.connection_id}`).set(auth)).status).toBe(204);
    expect((await request(t.server).get(`/api/connections/${connection.connection_id}`).set(auth)).status).toBe(404);
    expect((await request(t.server).get(`/api/jobs/${job.job_id}`).set(auth)).status).toBe(404);
    expect((await request(t.server).delete(`/api/connections/${connection.connection_id}`).set(auth)).status).toBe(404);
  });

  it('GET /health reports the database', async () => {
    const res = await request(t.server).get('/api/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', database: { kind, reachable: true } });
  });
});
