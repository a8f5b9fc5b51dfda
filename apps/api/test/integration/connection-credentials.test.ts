import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ConnectionSchema,
  JobDetailSchema,
  isTerminal,
  jobError,
  transitionJob,
  type ConnectionWire,
} from '@jobtrail/domain';
import { JobsStore, transitionEvents } from '@jobtrail/engine';
import request from 'supertest';
import { bearer, insertConnection, insertJobs, nextLinkOf, seededJob, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

describe.each(kinds)('credentials, connection status and the retry guard on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
    auth = { Authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(() => t.close());

  const settled = (jobId: string) =>
    waitFor(`job ${jobId} to finish`, async () => {
      const d = JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200)).body);
      return isTerminal(d.status) ? d : undefined;
    });
  const connection = async (id: string): Promise<ConnectionWire> =>
    ConnectionSchema.parse((await request(t.server).get(`/api/connections/${id}`).set(auth).expect(200)).body);
  const connect = async (login: string, userRef?: string) => {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: login, password: 'pw', ...(userRef ? { user_ref: userRef } : {}) })
      .expect(202);
    expect(res.body.connection.status).toBe('pending');
    return { connectionId: res.body.connection.connection_id as string, jobId: res.body.job.job_id as string };
  };

  it.each([
    ['user-ok', 'active'],
    ['user-bad-password', 'invalid'],
    ['user-action', 'action-required'],
    ['user-flaky', 'active'],
  ])('status of a connection with login %s ends %s', async (login, status) => {
    const { connectionId, jobId } = await connect(login);
    await settled(jobId);
    expect((await connection(connectionId)).status).toBe(status);
  });

  it('user-flaky: the job detail tells both attempts', async () => {
    const { jobId } = await connect('user-flaky');
    const done = await settled(jobId);
    expect(done.attempts.map((a) => [a.attempt, a.outcome, a.error?.code ?? null])).toEqual([
      [1, 'requeued', 'institution-unavailable'],
      [2, 'success', null],
    ]);
    expect(done.attempts.every((a) => a.worker.length > 0 && a.finished_at !== null)).toBe(true);
    expect(done.attempts[1]!.steps.map((s) => s.status)).toEqual(['success', 'success', 'success']);
  });

  it('a bad password: retry refused until PATCH replaces the credentials; the new refresh verifies them', async () => {
    const { connectionId, jobId } = await connect('user-bad-password');
    expect((await settled(jobId)).error?.code).toBe('invalid-credentials');

    const refused = await request(t.server).post(`/api/jobs/${jobId}/retry`).set(auth);
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'credentials-update-required', status: 409 });
    expect((await request(t.server).post(`/api/jobs/${jobId}/retry`).set(auth)).status).toBe(409);

    const patched = await request(t.server)
      .patch(`/api/connections/${connectionId}`)
      .set(auth)
      .send({ login_id: 'user-ok', password: 'n3w-secret' });
    expect(patched.status).toBe(202);
    expect(patched.headers.location).toBe(`/api/jobs/${patched.body.job.job_id}`);
    expect(patched.body.connection).toMatchObject({ login_id: 'user-ok', status: 'pending' });
    expect(patched.body.connection.credentials_updated_at).not.toBeNull();
    expect(JSON.stringify(patched.body)).not.toContain('n3w-secret');
    expect(t.logs.join('\n')).not.toContain('n3w-secret');
    expect((await settled(patched.body.job.job_id)).status).toBe('success');
    expect((await connection(connectionId)).status).toBe('active');

    // The history keeps every job; the old failure may now be retried.
    const history = await request(t.server).get(`/api/connections/${connectionId}/jobs`).set(auth).expect(200);
    expect(history.body.map((j: { job_id: string }) => j.job_id)).toEqual([patched.body.job.job_id, jobId]);
    expect((await request(t.server).post(`/api/jobs/${jobId}/retry`).set(auth)).status).toBe(202);
  });

  it('PATCH while a refresh is active answers 200 with that refresh; a schedule alone answers the connection', async () => {
    const app = await startTestApp(kind); // no worker: the refresh stays pending
    try {
      const key = { Authorization: `Bearer ${app.adminKey}` };
      const created = await request(app.server)
        .post('/api/connections')
        .set(key)
        .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
        .expect(202);
      const id = created.body.connection.connection_id as string;
      const patched = await request(app.server).patch(`/api/connections/${id}`).set(key).send({ password: 'other' });
      expect(patched.status).toBe(200);
      expect(patched.body.job.job_id).toBe(created.body.job.job_id);
      expect(patched.headers.location).toBeUndefined();

      const both = await Promise.all(
        [1, 2].map(() => request(app.server).patch(`/api/connections/${id}`).set(key).send({ password: 'again' })),
      );
      expect(both.map((r) => r.status)).toEqual([200, 200]);
      expect(new Set(both.map((r) => r.body.job.job_id))).toEqual(new Set([created.body.job.job_id]));

      const schedule = await request(app.server)
        .patch(`/api/connections/${id}`)
        .set(key)
        .send({ refresh_every_hours: 24 });
      expect(schedule.status).toBe(200);
      expect(schedule.body).toEqual({ connection: expect.objectContaining({ refresh_every_hours: 24 }) });
    } finally {
      await app.close();
    }
  });

  it('PATCH during a running refresh: its rejection of the old credentials neither marks the connection invalid nor blocks a retry', async () => {
    const app = await startTestApp(kind); // no worker: the test plays the worker's part
    try {
      const k = await tenantKey(app, 'race');
      const key = bearer(k.key);
      const connectionId = await insertConnection(app, k.tenantId, Date.now() - 60_000);
      const running = seededJob(connectionId, Date.now() - 10_000, 'processing', 'refresh');
      await insertJobs(app, k.tenantId, [running]);
      const patched = await request(app.server)
        .patch(`/api/connections/${connectionId}`)
        .set(key)
        .send({ password: 'new' });
      expect(patched.status).toBe(200);
      expect(patched.body.job.job_id).toBe(running.id);

      // The attempt that read the old credentials ends rejected.
      const failed = transitionJob(
        running,
        { type: 'fail', error: jobError('invalid-credentials', 'old password') },
        {
          now: new Date(),
          actor: 'worker-test',
        },
      );
      if (!failed.ok) throw failed.error;
      const [committed] = await app.app
        .get(JobsStore)
        .commitNow([
          { tenantId: k.tenantId, before: running, next: failed.job, events: transitionEvents(failed.transition) },
        ]);
      expect(committed).not.toBeNull();
      const read = ConnectionSchema.parse(
        (await request(app.server).get(`/api/connections/${connectionId}`).set(key).expect(200)).body,
      );
      expect(read.status).toBe('pending');
      // The credentials changed after that attempt started: a retry tries the new ones.
      expect((await request(app.server).post(`/api/jobs/${running.id}/retry`).set(key)).status).toBe(202);
    } finally {
      await app.close();
    }
  });

  it('PATCH validates its body, needs an operator key and hides other tenants', async () => {
    const { connectionId } = await connect('user-ok');
    const bad = await request(t.server).patch(`/api/connections/${connectionId}`).set(auth).send({ login_id: 'x' });
    expect(bad.status).toBe(400);
    expect((await request(t.server).patch(`/api/connections/${connectionId}`).set(auth).send({})).status).toBe(400);
    expect(
      (await request(t.server).patch(`/api/connections/${connectionId}`).set(auth).send({ password: 'p', extra: 1 }))
        .status,
    ).toBe(400);
    const viewer = await t.createKey('viewer');
    expect(
      (
        await request(t.server)
          .patch(`/api/connections/${connectionId}`)
          .set({ Authorization: `Bearer ${viewer.key}` })
          .send({ password: 'p' })
      ).status,
    ).toBe(403);
    const other = await t.createKey('admin', 'other-tenant');
    expect(
      (
        await request(t.server)
          .patch(`/api/connections/${connectionId}`)
          .set({ Authorization: `Bearer ${other.key}` })
          .send({ password: 'p' })
      ).status,
    ).toBe(404);
  });

  it('GET /connections filters by status, institution, reference and q (full login, reference, id prefix)', async () => {
    const ref = `ref-${Date.now()}`;
    const { connectionId, jobId } = await connect(`user-bad-password`, ref);
    await settled(jobId);
    const ids = async (query: string) =>
      (await request(t.server).get(`/api/connections?${query}`).set(auth).expect(200)).body.map(
        (c: ConnectionWire) => c.connection_id,
      ) as string[];
    expect(await ids('status=invalid')).toContain(connectionId);
    expect(await ids('status=active')).not.toContain(connectionId);
    expect(await ids(`user_ref=${ref}`)).toEqual([connectionId]);
    expect(await ids(`q=${ref}`)).toEqual([connectionId]);
    expect(await ids(`q=${connectionId.slice(0, 30)}`)).toEqual([connectionId]);
    expect(await ids('q=user-bad-password&institution_id=sandbox')).toContain(connectionId);
    expect(await ids('q=user-bad-passwor')).not.toContain(connectionId);
    expect(await ids('institution_id=nowhere')).toEqual([]);
    expect((await request(t.server).get('/api/connections?status=broken').set(auth)).status).toBe(400);
  });

  it('GET /connections?latest_job_status=failed lists the connections whose latest job failed, paged, until a newer job', async () => {
    const ref = `latest-${Date.now()}`;
    const failing = await connect('user-bad-password', `${ref}-a`);
    const failing2 = await connect('user-action', `${ref}-b`);
    const fine = await connect('user-ok', `${ref}-c`);
    await Promise.all([settled(failing.jobId), settled(failing2.jobId), settled(fine.jobId)]);
    const ids = async (query: string) =>
      (await request(t.server).get(`/api/connections?${query}`).set(auth).expect(200)).body.map(
        (c: ConnectionWire) => c.connection_id,
      ) as string[];
    const failed = await ids('latest_job_status=failed&limit=200');
    expect(failed).toEqual(expect.arrayContaining([failing.connectionId, failing2.connectionId]));
    expect(failed).not.toContain(fine.connectionId);
    expect(await ids('latest_job_status=success&limit=200')).toContain(fine.connectionId);
    // With the other filters, and over pages (keyset order, the newest first).
    expect(await ids(`latest_job_status=failed&user_ref=${ref}-a`)).toEqual([failing.connectionId]);
    expect(await ids(`latest_job_status=failed&status=action-required&q=${ref}-b`)).toEqual([failing2.connectionId]);
    const first = await request(t.server)
      .get('/api/connections?latest_job_status=failed&limit=1')
      .set(auth)
      .expect(200);
    expect(first.body.map((c: ConnectionWire) => c.connection_id)).toEqual([failing2.connectionId]);
    const next = nextLinkOf(first);
    expect(next).not.toBeNull();
    const second = await request(t.server).get(next!).set(auth).expect(200);
    expect(second.body[0].connection_id).toBe(failing.connectionId);

    // A newer job that succeeds (a purge) takes the connection out: only the latest job counts.
    const purge = await request(t.server).post(`/api/connections/${failing.connectionId}/purge`).set(auth).expect(202);
    await settled(purge.body.job_id as string);
    expect(await ids('latest_job_status=failed&limit=200')).not.toContain(failing.connectionId);
    expect(await ids('latest_job_status=failed&limit=200')).toContain(failing2.connectionId);

    const bad = await request(t.server).get('/api/connections?latest_job_status=broken').set(auth);
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'query.latest_job_status' })]);
  });
});
