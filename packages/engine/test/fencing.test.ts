import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, transitionJob, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { LeaseSweeper, rowToJob, rowToTransition, transitionEvents, type ClaimedJob } from '../src/index.js';
import type { JobEventRow, JobRow } from '../src/store/rows.js';
import {
  TEST_WORKER_CONFIG,
  databaseKinds,
  openTestDatabase,
  silentLog,
  type TestDatabase,
} from './support/test-database.js';

const kinds = await databaseKinds();

// No worker loop runs: the test plays the workers by hand with the engine's own store.
describe.each(kinds)('fencing of worker writes on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterAll(() => t.close());

  const claimAs = async (workerId: string, jobId: string): Promise<ClaimedJob> =>
    t.db.transaction(async (tx) => {
      const due = (await t.store.lockDueJobs(tx, Date.now(), 100)).find((c) => c.job.id === jobId);
      if (!due) throw new Error(`job ${jobId} is not claimable`);
      const res = transitionJobOrThrow(
        due.job,
        { type: 'claim', workerId, leaseMs: 1_000 },
        { now: new Date(), actor: workerId },
      );
      const [change] = await t.store.commit(tx, [
        { tenantId: due.tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) },
      ]);
      expect(change).not.toBeNull();
      return { ...due, job: res.job };
    });

  const storedJob = async (jobId: string): Promise<Job> =>
    rowToJob((await t.db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [jobId]))[0]!);

  it('a worker whose lease expired changes nothing once the job was claimed again', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const jobId = (await t.createJob(tenantId, connectionId, 'refresh')).id;

    const first = await claimAs('worker-A', jobId);
    expect(first.job).toMatchObject({ status: 'processing', attempt: 1, leaseOwner: 'worker-A' });

    // The lease runs out (worker A is stalled), the sweeper requeues the job as worker-lost.
    await t.db.execute('UPDATE jobs SET lease_expires_at = $1 WHERE id = $2', [Date.now() - 1, jobId]);
    const sweeper = new LeaseSweeper(t.db, t.store, t.bus, TEST_WORKER_CONFIG, silentLog, 'sweeper:test');
    expect(await sweeper.sweepExpiredLeases()).toBe(1);
    await t.db.execute('UPDATE jobs SET run_at = $1 WHERE id = $2', [Date.now() - 1, jobId]);

    const second = await claimAs('worker-B', jobId);
    expect(second.job).toMatchObject({ status: 'processing', attempt: 2, leaseOwner: 'worker-B' });

    // Worker A wakes up and tries to heartbeat, progress, complete and fail: every write changes 0 rows.
    const heartbeat = transitionJobOrThrow(
      first.job,
      { type: 'heartbeat', workerId: 'worker-A', leaseMs: 60_000 },
      { now: new Date(), actor: 'worker-A' },
    );
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
    for (const next of [heartbeat.job, started.job, complete.job, fail.job]) {
      const [change] = await t.store.commitNow([{ tenantId: first.tenantId, before: first.job, next, events: [] }]);
      expect(change).toBeNull();
    }

    // Worker B's attempt is what the job shows, and B can still write.
    expect(await storedJob(jobId)).toMatchObject({
      status: 'processing',
      attempt: 2,
      leaseOwner: 'worker-B',
      result: null,
    });
    const transitions = (
      await t.db.query<JobEventRow>(`SELECT * FROM job_events WHERE job_id = $1 AND kind = 'transition' ORDER BY id`, [
        jobId,
      ])
    ).map(rowToTransition);
    expect(transitions.map((tr) => `${tr.to}:${tr.reason}:${tr.actor}`)).toEqual([
      'processing:claimed:worker-A',
      'pending:worker-lost:sweeper:test',
      'processing:claimed:worker-B',
    ]);
    const renewal = transitionJobOrThrow(
      second.job,
      { type: 'heartbeat', workerId: 'worker-B', leaseMs: 60_000 },
      { now: new Date(), actor: 'worker-B' },
    );
    const [renewed] = await t.store.commitNow([
      { tenantId: second.tenantId, before: second.job, next: renewal.job, events: [] },
    ]);
    expect(renewed?.job.cancelRequestedAt).toBeNull();
  });

  it('a write computed before a renewal never shortens the lease, nor clears a cancel request', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const jobId = (await t.createJob(tenantId, connectionId, 'refresh')).id;
    const claimed = await claimAs('worker-C', jobId);
    const ctx = { now: new Date(), actor: 'worker-C' };
    // A progress write computed now (lease as claimed), committed after a renewal and a cancel request.
    const progress = transitionJobOrThrow(claimed.job, { type: 'step-started', step: 'verify-credentials' }, ctx);
    const renewal = transitionJobOrThrow(
      claimed.job,
      { type: 'heartbeat', workerId: 'worker-C', leaseMs: 600_000 },
      { now: new Date(), actor: 'worker-C' },
    );
    await t.store.commitNow([{ tenantId, before: claimed.job, next: renewal.job, events: [] }]);
    const cancel = transitionJobOrThrow(
      await storedJob(jobId),
      { type: 'request-cancel' },
      { now: new Date(), actor: 'key' },
    );
    await t.store.commitNow([{ tenantId, before: claimed.job, next: cancel.job, events: [] }]);

    const [written] = await t.store.commitNow([{ tenantId, before: claimed.job, next: progress.job, events: [] }]);
    expect(written).not.toBeNull();
    const stored = await storedJob(jobId);
    expect(stored.leaseExpiresAt).toEqual(renewal.job.leaseExpiresAt);
    expect(stored.cancelRequestedAt).toEqual(cancel.job.cancelRequestedAt);
    expect(stored.steps[0]?.status).toBe('running');
    // The committed job tells the worker what others changed meanwhile.
    expect(written?.job.cancelRequestedAt).toEqual(cancel.job.cancelRequestedAt);
  });

  it('the sweeper fails a job past its deadline even while its worker still renews the lease', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const jobId = (await t.createJob(tenantId, connectionId, 'refresh')).id;
    await claimAs('worker-D', jobId);
    // The lease is fresh (a live worker renews it) but the attempt's deadline has passed.
    await t.db.execute('UPDATE jobs SET lease_expires_at = $1, deadline_at = $2 WHERE id = $3', [
      Date.now() + 60_000,
      Date.now() - 1,
      jobId,
    ]);
    const sweeper = new LeaseSweeper(t.db, t.store, t.bus, TEST_WORKER_CONFIG, silentLog, 'sweeper:test');
    expect(await sweeper.sweepExpiredLeases()).toBe(1);
    expect(await storedJob(jobId)).toMatchObject({ status: 'failed', error: { code: 'job-timed-out' } });
  });

  it('the database refuses a second processing job on one connection, whatever the code does', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const refresh = await t.createJob(tenantId, connectionId, 'refresh');
    const purge = await t.createJob(tenantId, connectionId, 'purge');
    expect(await t.db.execute(`UPDATE jobs SET status = 'processing' WHERE id = $1`, [refresh.id])).toBe(1);
    const second = await t.db.execute(`UPDATE jobs SET status = 'processing' WHERE id = $1`, [purge.id]).then(
      (changed) => `changed ${changed}`,
      (err: Error) => err.message,
    );
    expect(second).toMatch(/UNIQUE|unique|duplicate/);
  });
});
