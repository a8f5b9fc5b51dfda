import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobDetailSchema, isTerminal, type JobDetailWire } from '@jobtrail/domain';
import request from 'supertest';
import { bankData } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

describe.each(kinds)('execution engine with the sandbox institution on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
    auth = { Authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(() => t.close());

  const detail = async (jobId: string) =>
    JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200)).body);
  const settled = (jobId: string) =>
    waitFor(`job ${jobId} to finish`, async () => {
      const d = await detail(jobId);
      return isTerminal(d.status) ? d : undefined;
    });
  const connect = async (login: string) => {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: login, password: 'pw' })
      .expect(202);
    return { connectionId: res.body.connection.connection_id as string, jobId: res.body.job.job_id as string };
  };
  const statuses = (d: JobDetailWire) => d.transitions.map((tr) => `${tr.from}>${tr.to}:${tr.reason}`);

  it('user-ok: success, 3 accounts and their transactions written; a second refresh duplicates nothing; purge deletes them', async () => {
    const { connectionId, jobId } = await connect('user-ok');
    const done = await settled(jobId);
    expect(done).toMatchObject({
      status: 'success',
      attempt: 1,
      error: null,
      result: { accounts: 3, transactions: 120 },
    });
    expect(done.steps.map((s) => s.status)).toEqual(['success', 'success', 'success']);
    expect(statuses(done)).toEqual(['pending>processing:claimed', 'processing>success:completed']);
    expect(await bankData(t, connectionId)).toEqual({ accounts: 3, transactions: 120 });

    const again = await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth).expect(202);
    expect((await settled(again.body.job_id)).status).toBe('success');
    expect(await bankData(t, connectionId)).toEqual({ accounts: 3, transactions: 120 });

    const purge = await request(t.server).post(`/api/connections/${connectionId}/purge`).set(auth).expect(202);
    const purged = await settled(purge.body.job_id);
    expect(purged).toMatchObject({ status: 'success', result: { transactions_deleted: 120, accounts_deleted: 3 } });
    expect(purged.steps.map((s) => s.name)).toEqual(['delete-transactions', 'delete-accounts']);
    expect(await bankData(t, connectionId)).toEqual({ accounts: 0, transactions: 0 });

    const logs = await request(t.server).get(`/api/jobs/${jobId}/logs`).set(auth).expect(200);
    const messages = logs.body.map((l: { message: string }) => l.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        'credentials accepted',
        '3 accounts stored',
        '120 transactions stored',
        'finished: accounts 3, transactions 120',
      ]),
    );
  });

  it('user-bad-password: fails at verify-credentials with invalid-credentials, not retried', async () => {
    const { connectionId, jobId } = await connect('user-bad-password');
    const done = await settled(jobId);
    expect(done).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { code: 'invalid-credentials', retryable: false, title: 'Invalid credentials' },
    });
    expect(done.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(done.steps[0]?.error?.code).toBe('invalid-credentials');
    expect(await bankData(t, connectionId)).toEqual({ accounts: 0, transactions: 0 });
  });

  it('user-action: fails with user-action-required, not retried', async () => {
    const { jobId } = await connect('user-action');
    expect(await settled(jobId)).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { code: 'user-action-required', retryable: false },
    });
  });

  it('user-flaky: institution-unavailable on attempt 1, back to pending with backoff, success on attempt 2', async () => {
    const { connectionId, jobId } = await connect('user-flaky');
    const done = await settled(jobId);
    expect(done).toMatchObject({ status: 'success', attempt: 2, error: null });
    expect(statuses(done)).toEqual([
      'pending>processing:claimed',
      'processing>pending:institution-unavailable',
      'pending>processing:claimed',
      'processing>success:completed',
    ]);
    // Each attempt keeps its own steps: the failed first one's survive the second claim's reset.
    expect(done.attempts.map((a) => [a.attempt, a.outcome, a.error?.code ?? null])).toEqual([
      [1, 'requeued', 'institution-unavailable'],
      [2, 'success', null],
    ]);
    const [first, second] = done.attempts;
    expect(first!.steps.map((s) => s.name)).toEqual([
      'verify-credentials',
      'retrieve-accounts',
      'retrieve-transactions',
    ]);
    expect(first!.steps.find((s) => s.status === 'failed')?.error?.code).toBe('institution-unavailable');
    expect(first!.steps.every((s) => s.status !== 'success' || s.finished_at !== null)).toBe(true);
    expect(second!.steps.map((s) => s.status)).toEqual(['success', 'success', 'success']);
    expect(second!.steps).toEqual(done.steps);
    expect(await bankData(t, connectionId)).toEqual({ accounts: 3, transactions: 120 });
  });

  it('user-down: institution-unavailable on every attempt, failed when attempts run out', async () => {
    const { jobId } = await connect('user-down');
    const done = await settled(jobId);
    expect(done).toMatchObject({
      status: 'failed',
      attempt: 3,
      max_attempts: 3,
      error: { code: 'institution-unavailable', retryable: true },
    });
    expect(done.transitions.filter((tr) => tr.to === 'processing')).toHaveLength(3);
  });

  it('user-slow: succeeds; a cancel while processing stops it at the next step boundary', async () => {
    const { connectionId, jobId } = await connect('user-slow');
    expect((await settled(jobId)).status).toBe('success');
    const refresh = await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth).expect(202);
    await waitFor('processing', async () =>
      (await detail(refresh.body.job_id)).status === 'processing' ? true : undefined,
    );
    const cancel = await request(t.server).post(`/api/jobs/${refresh.body.job_id}/cancel`).set(auth).expect(202);
    expect(cancel.body).toMatchObject({ status: 'processing', cancel_requested: true });
    const done = await settled(refresh.body.job_id);
    expect(done).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect(done.steps.some((s) => s.status === 'skipped')).toBe(true);
  });

  it('actions on one connection run one at a time, in the order they were requested', async () => {
    const { connectionId, jobId } = await connect('user-slow');
    const purge = await request(t.server).post(`/api/connections/${connectionId}/purge`).set(auth).expect(202);
    const [first, second] = [await settled(jobId), await settled(purge.body.job_id)];
    expect(first.status).toBe('success');
    expect(second.status).toBe('success');
    expect(Date.parse(second.started_at!)).toBeGreaterThanOrEqual(Date.parse(first.finished_at!));
  });

  it('GET /metrics exposes job counts in Prometheus format', async () => {
    const res = await request(t.server).get('/api/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/jobtrail_jobs\{status="success",action="refresh"\} [1-9]/);
    expect(res.text).toMatch(/jobtrail_job_duration_seconds_count\{action="refresh",status="success"\} [1-9]/);
    expect(res.text).toContain('jobtrail_queue_depth ');
  });
});
