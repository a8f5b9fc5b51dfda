import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectionSchema, JobDetailSchema, isTerminal, type JobDetailWire } from '@jobtrail/domain';
import { JobEventsBus, type JobChange } from '@jobtrail/engine';
import request from 'supertest';
import { bearer, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

describe.each(kinds)('one-time-code challenges (POST /jobs/:job_id/mfa) on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  const changes: JobChange[] = [];
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all', worker: { mfaTimeoutMs: 60_000 } });
    auth = { Authorization: `Bearer ${t.adminKey}` };
    t.app.get(JobEventsBus).subscribe((c) => changes.push(c));
  });
  afterAll(() => t.close());

  const detail = async (jobId: string): Promise<JobDetailWire> =>
    JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200)).body);
  const settled = (jobId: string) =>
    waitFor(`job ${jobId} to finish`, async () => {
      const d = await detail(jobId);
      return isTerminal(d.status) ? d : undefined;
    });
  const waiting = (jobId: string) =>
    waitFor(`job ${jobId} to ask for a code`, async () => {
      const d = await detail(jobId);
      return d.challenge ? d : undefined;
    });
  const connect = async (login = 'user-mfa') => {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: login, password: 'pw' })
      .expect(202);
    return { connectionId: res.body.connection.connection_id as string, jobId: res.body.job.job_id as string };
  };
  const answer = (jobId: string, code: string, key = auth) =>
    request(t.server).post(`/api/jobs/${jobId}/mfa`).set(key).send({ code });

  it('user-mfa waits at verify-credentials with a challenge, then 123456 lets it finish', async () => {
    const { connectionId, jobId } = await connect();
    const d = await waiting(jobId);
    expect(d.status).toBe('processing');
    expect(d.steps.map((s) => s.status)).toEqual(['action-required', 'pending', 'pending']);
    expect(d.challenge).toMatchObject({ type: 'one-time-code', prompt: expect.stringContaining('code') });
    const expiresIn = Date.parse(d.challenge!.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(50_000);
    expect(expiresIn).toBeLessThanOrEqual(61_000);
    expect(d.transitions.at(-1)).toMatchObject({ from: 'processing', to: 'processing', reason: 'mfa-required' });
    // The live stream told about the challenge.
    expect(changes.some((c) => c.job.job_id === jobId && c.job.challenge !== null)).toBe(true);

    const res = await answer(jobId, '123456');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ job_id: jobId, status: 'processing', challenge: null });
    const done = await settled(jobId);
    expect(done.status).toBe('success');
    expect(done.attempt).toBe(1);
    expect(done.result).toEqual({ accounts: 3, transactions: 120 });
    expect(done.steps.map((s) => s.status)).toEqual(['success', 'success', 'success']);
    expect(done.transitions.map((x) => x.reason)).toEqual(['claimed', 'mfa-required', 'mfa-answered', 'completed']);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['success']);
    const c = ConnectionSchema.parse(
      (await request(t.server).get(`/api/connections/${connectionId}`).set(auth).expect(200)).body,
    );
    expect(c.status).toBe('active');
    // Answering again: nothing waits any more.
    const again = await answer(jobId, '123456');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('challenge-not-waiting');
  });

  it('a wrong code answers 422 and is counted; the third fails the job with mfa-failed', async () => {
    const { connectionId, jobId } = await connect();
    await waiting(jobId);
    for (const left of [2, 1]) {
      const res = await answer(jobId, '000000');
      expect(res.status).toBe(422);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'mfa-code-invalid', status: 422 });
      expect(res.body.detail).toContain(`${left} `);
      expect((await detail(jobId)).status).toBe('processing');
    }
    const last = await answer(jobId, '999999');
    expect(last.status).toBe(422);
    expect(last.body.code).toBe('mfa-code-invalid');
    const failed = await detail(jobId);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('mfa-failed');
    expect(failed.error?.troubleshooting.length).toBeGreaterThan(0);
    expect(failed.challenge).toBeNull();
    expect(failed.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'skipped']);
    const c = ConnectionSchema.parse(
      (await request(t.server).get(`/api/connections/${connectionId}`).set(auth).expect(200)).body,
    );
    expect(c.status).toBe('action-required');
    // The failed job can be retried: a new job that asks again.
    const retried = await request(t.server).post(`/api/jobs/${jobId}/retry`).set(auth).expect(202);
    await waiting(retried.body.job_id as string);
  });

  it('the same right code posted twice at once: one 202, the other 409, one transition', async () => {
    const { jobId } = await connect();
    await waiting(jobId);
    const answers = await Promise.all([answer(jobId, '123456'), answer(jobId, '123456')]);
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409]);
    const done = await settled(jobId);
    expect(done.status).toBe('success');
    expect(done.transitions.filter((x) => x.reason === 'mfa-answered')).toHaveLength(1);
  });

  it('wrong codes posted at once are each counted: three fail the job, never more', async () => {
    const { jobId } = await connect();
    await waiting(jobId);
    const answers = await Promise.all([1, 2, 3, 4].map(() => answer(jobId, '111111')));
    expect(answers.map((r) => r.status).sort()).toEqual([409, 422, 422, 422]);
    const failed = await detail(jobId);
    expect(failed.error?.code).toBe('mfa-failed');
  });

  it('no challenge: 409 challenge-not-waiting; bad input 400; another tenant 404; a viewer 403', async () => {
    const { jobId } = await connect('user-ok');
    const done = await settled(jobId);
    const res = await answer(done.job_id, '123456');
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('challenge-not-waiting');
    for (const body of [{}, { code: '' }, { code: 123456 }, { code: '1', extra: true }]) {
      const bad = await request(t.server).post(`/api/jobs/${jobId}/mfa`).set(auth).send(body);
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('validation-failed');
    }
    expect((await request(t.server).post('/api/jobs/not-a-uuid/mfa').set(auth).send({ code: '1' })).status).toBe(400);
    const mfa = await connect();
    await waiting(mfa.jobId);
    const other = bearer((await tenantKey(t, 'other-tenant', 'operator')).key);
    expect((await answer(mfa.jobId, '123456', other)).status).toBe(404);
    const viewer = bearer((await t.createKey('viewer')).key);
    expect((await answer(mfa.jobId, '123456', viewer)).status).toBe(403);
    expect((await detail(mfa.jobId)).challenge).not.toBeNull();
  });

  it('cancelling a job that waits for a code cancels it at once', async () => {
    const { jobId } = await connect();
    await waiting(jobId);
    const res = await request(t.server).post(`/api/jobs/${jobId}/cancel`).set(auth).send({});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'cancelled', challenge: null });
    expect((await answer(jobId, '123456')).status).toBe(409);
  });

  it('a webhook subscriber gets job.updated when the challenge appears', async () => {
    const sub = await request(t.server)
      .post('/api/webhooks')
      .set(auth)
      .send({ url: 'http://127.0.0.1:9/hooks', events: ['job.updated'] })
      .expect(201);
    const { jobId } = await connect();
    await waiting(jobId);
    const deliveries = await waitFor('the challenge delivery', async () => {
      const res = await request(t.server).get(`/api/jobs/${jobId}/deliveries`).set(auth).expect(200);
      const list = res.body as Array<{ event_type: string }>;
      return list.length >= 2 ? list : undefined;
    });
    // claimed (pending → processing) and the challenge (processing → processing).
    expect(deliveries.map((d) => d.event_type)).toEqual(['job.updated', 'job.updated']);
    await request(t.server)
      .delete(`/api/webhooks/${sub.body.webhook_id as string}`)
      .set(auth)
      .expect(204);
  });
});
