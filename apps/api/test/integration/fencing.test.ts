import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, publicActor, transitionJob, transitionJobOrThrow } from '@jobtrail/domain';
import request from 'supertest';
import { Database } from '../../src/database/database.js';
import { WorkerRepository, transitionEvents, type ClaimedJob } from '../../src/worker/worker.repository.js';
import { WorkerService } from '../../src/worker/worker.service.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

// role 'api': no worker loop runs, so the test plays the workers by hand with the same repository.
describe.each(kinds)('fencing of worker writes on %s', (kind) => {
  let t: TestApp;
  let repo: WorkerRepository;
  let db: Database;
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'api', worker: { leaseMs: 1_000 } });
    repo = t.app.get(WorkerRepository);
    db = t.app.get(Database);
  });
  afterAll(() => t.close());

  const claimAs = async (workerId: string, jobId: string): Promise<ClaimedJob> =>
    db.transaction(async (tx) => {
      const due = (await repo.lockDueJobs(tx, Date.now(), 100)).find((c) => c.job.id === jobId);
      if (!due) throw new Error(`job ${jobId} is not claimable`);
      const res = transitionJobOrThrow(
        due.job,
        { type: 'claim', workerId, leaseMs: 1_000 },
        { now: new Date(), actor: workerId },
      );
      const [change] = await repo.writeFenced(tx, [
        { tenantId: due.tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) },
      ]);
      expect(change).not.toBeNull();
      return { ...due, job: res.job };
    });

  it('a worker whose lease expired changes nothing once the job was claimed again', async () => {
    const created = await request(t.server)
      .post('/api/connections')
      .set({ Authorization: `Bearer ${t.adminKey}` })
      .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      .expect(202);
    const jobId: string = created.body.job.job_id;

    const first = await claimAs('worker-A', jobId);
    expect(first.job).toMatchObject({ status: 'processing', attempt: 1, leaseOwner: 'worker-A' });

    // The lease runs out (worker A is stalled), the sweeper requeues the job as worker-lost.
    await db.execute('UPDATE jobs SET lease_expires_at = ? WHERE id = ?', [Date.now() - 1, jobId]);
    expect(await t.app.get(WorkerService).sweepExpiredLeases()).toBe(1);
    await db.execute('UPDATE jobs SET run_at = ? WHERE id = ?', [Date.now() - 1, jobId]);

    const second = await claimAs('worker-B', jobId);
    expect(second.job).toMatchObject({ status: 'processing', attempt: 2, leaseOwner: 'worker-B' });

    // Worker A wakes up and tries to heartbeat, progress, complete and fail: every write changes 0 rows.
    expect(await repo.renewLease(first.job, 'worker-A', Date.now() + 60_000)).toBeNull();
    const started = transitionJobOrThrow(
      first.job,
      { type: 'step-started', step: 'verify-credentials' },
      { now: new Date(), actor: 'worker-A' },
    );
    const allDone = first.job.steps.reduce(
      (j, s) =>
        transitionJobOrThrow(
          transitionJobOrThrow(j, { type: 'step-started', step: s.name }, { now: new Date(), actor: 'A' }).job,
          { type: 'step-succeeded', step: s.name },
          { now: new Date(), actor: 'A' },
        ).job,
      first.job,
    );
    const complete = transitionJobOrThrow(
      allDone,
      { type: 'succeed', result: { accounts: 99 } },
      { now: new Date(), actor: 'worker-A' },
    );
    const fail = transitionJob(
      first.job,
      { type: 'fail', error: jobError('invalid-credentials', 'stale') },
      { now: new Date(), actor: 'worker-A' },
    );
    if (!fail.ok) throw fail.error;
    for (const next of [started.job, complete.job, fail.job]) {
      const [change] = await repo.writeFencedNow([{ tenantId: first.tenantId, before: first.job, next, events: [] }]);
      expect(change).toBeNull();
    }

    // Worker B's attempt is what the job shows, and B can still write.
    const detail = await request(t.server)
      .get(`/api/jobs/${jobId}`)
      .set({ Authorization: `Bearer ${t.adminKey}` })
      .expect(200);
    expect(detail.body).toMatchObject({ status: 'processing', attempt: 2, lease_owner: 'worker-B', result: null });
    expect(
      detail.body.transitions.map(
        (tr: { to: string; reason: string; actor: string }) => `${tr.to}:${tr.reason}:${tr.actor}`,
      ),
    ).toEqual([
      'processing:claimed:worker-A',
      // Tenants see an opaque label of the sweeping worker, not its host and pid (issue 10, item 9).
      'pending:worker-lost:' + publicActor('sweeper:' + t.app.get(WorkerService).workerId),
      'processing:claimed:worker-B',
    ]);
    expect(await repo.renewLease(second.job, 'worker-B', Date.now() + 60_000)).toEqual({ cancelRequestedAt: null });
  });

  it('the database refuses a second processing job on one connection, whatever the code does', async () => {
    const created = await request(t.server)
      .post('/api/connections')
      .set({ Authorization: `Bearer ${t.adminKey}` })
      .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      .expect(202);
    const purge = await request(t.server)
      .post(`/api/connections/${created.body.connection.connection_id}/purge`)
      .set({ Authorization: `Bearer ${t.adminKey}` })
      .expect(202);
    expect(await db.execute(`UPDATE jobs SET status = 'processing' WHERE id = ?`, [created.body.job.job_id])).toBe(1);
    const second = await db.execute(`UPDATE jobs SET status = 'processing' WHERE id = ?`, [purge.body.job_id]).then(
      (changed) => `changed ${changed}`,
      (err: Error) => err.message,
    );
    expect(second).toMatch(/UNIQUE|unique|duplicate/);
  });
});
