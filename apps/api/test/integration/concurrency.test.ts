import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateConnectionResponseSchema, JobSummarySchema, type JobSummaryWire } from '@jobtrail/domain';
import request from 'supertest';
import { bearer } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

describe.each(kinds)('concurrent actions on one connection on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind);
    auth = bearer((await t.createKey('operator')).key);
  });
  afterAll(() => t.close());

  /** A connection whose first refresh job is cancelled: no refresh is active on it. */
  async function idleConnection(): Promise<{ connectionId: string; firstJobId: string }> {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' });
    expect(res.status).toBe(202);
    const { connection, job } = CreateConnectionResponseSchema.parse(res.body);
    const cancel = await request(t.server).post(`/api/jobs/${job.job_id}/cancel`).set(auth);
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelled');
    return { connectionId: connection.connection_id, firstJobId: job.job_id };
  }

  async function history(connectionId: string, query = ''): Promise<JobSummaryWire[]> {
    const res = await request(t.server).get(`/api/connections/${connectionId}/jobs?limit=200${query}`).set(auth);
    expect(res.status).toBe(200);
    return (res.body as unknown[]).map((j) => JobSummarySchema.parse(j));
  }

  it('50 concurrent refreshes make one job: one 202 and 49 × 200, all with the same job_id', async () => {
    const { connectionId, firstJobId } = await idleConnection();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth)),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    const jobIds = new Set(responses.map((r) => JobSummarySchema.parse(r.body).job_id));
    expect(jobIds.size).toBe(1);
    const [jobId] = [...jobIds];
    expect(jobId).not.toBe(firstJobId);
    for (const r of responses)
      expect(r.body).toMatchObject({
        job_id: jobId,
        connection_id: connectionId,
        action: 'refresh',
        status: 'pending',
      });

    const pending = await history(connectionId, '&status=pending&action=refresh');
    expect(pending.map((j) => j.job_id)).toEqual([jobId]);
    const all = await history(connectionId);
    expect(all.map((j) => [j.job_id, j.status])).toEqual([
      [jobId, 'pending'],
      [firstJobId, 'cancelled'],
    ]);
  });

  it('concurrent refreshes and purges make one job of each action', async () => {
    const { connectionId } = await idleConnection();
    const actions = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'refresh' : 'purge'));
    const responses = await Promise.all(
      actions.map((a) => request(t.server).post(`/api/connections/${connectionId}/${a}`).set(auth)),
    );
    for (const action of ['refresh', 'purge']) {
      const mine = responses.filter((_, i) => actions[i] === action);
      expect(mine.map((r) => r.status).filter((s) => s === 202)).toHaveLength(1);
      expect(mine.map((r) => r.status).filter((s) => s === 200)).toHaveLength(19);
      expect(new Set(mine.map((r) => r.body.job_id as string)).size).toBe(1);
      expect(mine.every((r) => r.body.action === action)).toBe(true);
    }
    const pending = await history(connectionId, '&status=pending');
    expect(pending.map((j) => j.action).sort()).toEqual(['purge', 'refresh']);
  });

  it('after the active job is cancelled, the next refresh makes a new one again', async () => {
    const { connectionId } = await idleConnection();
    const first = await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth);
    expect(first.status).toBe(202);
    expect((await request(t.server).post(`/api/jobs/${first.body.job_id}/cancel`).set(auth)).status).toBe(200);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth)),
    );
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
    const jobIds = new Set(responses.map((r) => r.body.job_id as string));
    expect(jobIds.size).toBe(1);
    expect(jobIds.has(first.body.job_id as string)).toBe(false);
    expect(await history(connectionId, '&status=pending')).toHaveLength(1);
  });

  it('concurrent retries of one cancelled job make one new job', async () => {
    const { firstJobId, connectionId } = await idleConnection();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => request(t.server).post(`/api/jobs/${firstJobId}/retry`).set(auth)),
    );
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(19);
    expect(new Set(responses.map((r) => r.body.job_id as string)).size).toBe(1);
    const pending = await history(connectionId, '&status=pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]!.retry_of).toBe(firstJobId);
  });
});
