import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { publicActor, transitionJobOrThrow } from '@jobtrail/domain';
import request from 'supertest';
import { DatabaseClock, Database, JobEventsBus, JobsStore, LeaseSweeper, transitionEvents } from '@jobtrail/engine';
import { LOGGER } from '../../src/common/tokens.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

/** Tenants never see the workers' host names and process ids (issue 10, item 9). */
describe.each(kinds)("workers' identities in what tenants read on %s", (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'api', worker: { leaseMs: 1_000 } });
  });
  afterAll(() => t.close());

  it('lease owner, transition actors and the worker-lost error show an opaque label only', async () => {
    const auth = { Authorization: `Bearer ${t.adminKey}` };
    const created = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      .expect(202);
    const jobId: string = created.body.job.job_id;
    const connectionId: string = created.body.connection.connection_id;
    const workerId = 'db-host-7.internal:4242:a1b2c3';
    const db = t.app.get(Database);
    const repo = t.app.get(JobsStore);
    const sweeperActor = 'sweeper:db-host-8.internal:99:ffffff';
    await db.transaction(async (tx) => {
      const due = (await repo.lockDueJobs(tx, t.app.get(DatabaseClock).now(), 100)).find((c) => c.job.id === jobId)!;
      const res = transitionJobOrThrow(
        due.job,
        { type: 'claim', workerId, leaseMs: 1_000 },
        { now: new Date(), actor: workerId },
      );
      await repo.commit(tx, [
        { tenantId: due.tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) },
      ]);
    });
    const processing = await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200);
    // Worker-internal fields are not shown to tenants at all (issue 14).
    expect(processing.body.lease_owner).toBeUndefined();
    expect(processing.text).not.toContain('db-host-7');

    // The lease runs out; the sweeper requeues it as worker-lost, naming the worker in the error.
    await db.execute('UPDATE jobs SET lease_expires_at = $1 WHERE id = $2', [Date.now() - 1, jobId]);
    const sweeper = new LeaseSweeper(
      db,
      repo,
      t.app.get(JobEventsBus),
      t.config.worker,
      t.app.get(LOGGER),
      sweeperActor,
    );
    expect(await sweeper.sweepExpiredLeases()).toBe(1);
    const texts = [
      (await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200)).text,
      (await request(t.server).get(`/api/connections/${connectionId}/jobs`).set(auth).expect(200)).text,
      (await request(t.server).get('/api/jobs').set(auth).expect(200)).text,
    ];
    for (const text of texts) {
      expect(text).not.toContain('db-host-7');
      expect(text).not.toContain('4242');
      expect(text).not.toContain('db-host-8');
    }
    const detail = JSON.parse(texts[0]!) as {
      error: { code: string; detail: string };
      transitions: { actor: string; reason: string }[];
    };
    expect(detail.error.code).toBe('worker-lost');
    expect(detail.error.detail).toContain(publicActor(workerId));
    expect(detail.transitions.map((tr) => tr.actor)).toEqual([publicActor(workerId), publicActor(sweeperActor)]);
  });
});
