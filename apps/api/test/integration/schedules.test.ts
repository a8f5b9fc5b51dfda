import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectionSchema, JobDetailSchema, maxScheduleJitterMs } from '@jobtrail/domain';
import { DatabaseClock } from '@jobtrail/engine';
import request from 'supertest';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();
const H = 3_600_000;

describe.each(kinds)('scheduled refreshes on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
    auth = { Authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(() => t.close());

  const now = () => t.app.get(DatabaseClock).now();
  const connect = async (extra: object = {}) =>
    (
      await request(t.server)
        .post('/api/connections')
        .set(auth)
        .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw', ...extra })
        .expect(202)
    ).body as { connection: { connection_id: string; next_refresh_at: string | null }; job: { job_id: string } };

  it('a schedule set on create or by PATCH has its next slot one period away (plus jitter); null clears it', async () => {
    const before = now();
    const created = await connect({ refresh_every_hours: 6 });
    const next = Date.parse(created.connection.next_refresh_at!);
    expect(next).toBeGreaterThanOrEqual(before + 6 * H);
    expect(next).toBeLessThan(now() + 6 * H + maxScheduleJitterMs(6));
    const id = created.connection.connection_id;

    const patched = ConnectionSchema.parse(
      (await request(t.server).patch(`/api/connections/${id}`).set(auth).send({ refresh_every_hours: 2 }).expect(200))
        .body.connection,
    );
    expect(patched.refresh_every_hours).toBe(2);
    expect(Date.parse(patched.next_refresh_at!)).toBeLessThan(now() + 2 * H + maxScheduleJitterMs(2));
    const cleared = ConnectionSchema.parse(
      (
        await request(t.server)
          .patch(`/api/connections/${id}`)
          .set(auth)
          .send({ refresh_every_hours: null })
          .expect(200)
      ).body.connection,
    );
    expect(cleared).toMatchObject({ refresh_every_hours: null, next_refresh_at: null });
    expect((await connect()).connection.next_refresh_at).toBeNull();
  });

  it('a due slot: the worker starts one refresh requested by "schedule", and the next slot moves a period on', async () => {
    const { connection, job } = await connect({ refresh_every_hours: 1 });
    const id = connection.connection_id;
    await waitFor('the first refresh', async () => {
      const d = JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${job.job_id}`).set(auth)).body);
      return d.status === 'success' ? d : undefined;
    });
    const slot = now() - 1_000;
    await t.db.execute('UPDATE connections SET next_refresh_at = $1 WHERE id = $2', [slot, id]);
    const scheduled = await waitFor('the scheduled refresh', async () => {
      const res = await request(t.server).get(`/api/connections/${id}/jobs`).set(auth).expect(200);
      const list = res.body as Array<{ job_id: string }>;
      return list.length === 2 ? list[0] : undefined;
    });
    const d = JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${scheduled!.job_id}`).set(auth)).body);
    expect(d.requested_by).toEqual({ id: 'schedule', name: 'schedule' });
    const c = ConnectionSchema.parse((await request(t.server).get(`/api/connections/${id}`).set(auth)).body);
    expect(Date.parse(c.next_refresh_at!)).toBe(slot + H);
    // Later rounds of the scheduler start nothing more for that slot.
    await new Promise((r) => setTimeout(r, 800));
    expect((await request(t.server).get(`/api/connections/${id}/jobs`).set(auth)).body).toHaveLength(2);
  });

  it('refresh_every_hours out of range or not whole is a 400', async () => {
    for (const bad of [0, 721, 1.5, '6']) {
      const res = await request(t.server)
        .post('/api/connections')
        .set(auth)
        .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw', refresh_every_hours: bad });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('body.refresh_every_hours');
    }
  });
});
