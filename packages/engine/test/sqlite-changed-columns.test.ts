import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { rowToJob, sqlText, transitionEvents, type JobRow, type Sql, type Transaction } from '../src/index.js';
import { openTestDatabase, type TestDatabase } from './support/test-database.js';

/**
 * On SQLite a job's update sets only the columns its change changes, when the commit knows the
 * stored row (issue 13: SQLite rewrites every index whose columns an UPDATE sets, whatever the
 * values). What that could break: a column left as it was although the stored row had changed
 * (another writer's cancel request), or a stored job that no longer equals the committed one.
 */
describe('SQLite job updates', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('sqlite');
  });
  afterAll(async () => {
    await t.close();
  });

  /** Runs `fn` in a transaction whose job UPDATE statements are recorded. */
  const recording = async <T>(fn: (tx: Transaction) => Promise<T>) => {
    const updates: string[] = [];
    const result = await t.db.transaction((tx) =>
      fn({
        ...tx,
        manager: tx.manager,
        execute: (sql: Sql, params?: readonly unknown[]) => {
          if (/^UPDATE jobs SET/.test(sqlText(sql))) updates.push(sqlText(sql));
          return tx.execute(sql, params);
        },
      }),
    );
    return { result, updates };
  };
  const stored = async (id: string) =>
    rowToJob((await t.db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]))[0]!);
  const claim = async (tenantId: string, jobId: string) =>
    recording(async (tx) => {
      const due = (await t.store.lockDueJobs(tx, Date.now() + 1_000, 100)).find((c) => c.job.id === jobId)!;
      const res = transitionJobOrThrow(
        due.job,
        { type: 'claim', workerId: 'w1', leaseMs: 30_000 },
        { now: new Date(), actor: 'w1' },
      );
      const [c] = await t.store.commit(
        tx,
        [{ tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) }],
        { locked: [due.job] },
      );
      return c!.job;
    });
  const complete = (tenantId: string, running: Job) =>
    recording(async (tx) => {
      const done = transitionJobOrThrow(
        running,
        { type: 'fail', error: jobError('invalid-credentials', 'The bank refused the password.') },
        { now: new Date(), actor: 'w1' },
      );
      const [c] = await t.store.commit(tx, [
        { tenantId, before: running, next: done.job, events: transitionEvents(done.transition) },
      ]);
      return c!.job;
    });

  it('sets only the changed columns when the stored row is known, and stores the committed job', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const job = await t.createJob(tenantId, connectionId, 'refresh');
    const claimed = await claim(tenantId, job.id);
    expect(claimed.updates).toHaveLength(1);
    // A claim changes the status, the attempt, the lease...; never these.
    for (const column of ['max_attempts', 'cancel_requested_at', 'challenge', 'result', 'error_code', 'run_at'])
      expect(claimed.updates[0]).not.toMatch(new RegExp(`\\b${column} =`));
    expect(claimed.updates[0]).toMatch(/\bstatus = .*\battempt = .*\blease_expires_at = /);
    expect(await stored(job.id)).toEqual(claimed.result);

    const completed = await complete(tenantId, claimed.result);
    expect(completed.updates[0]).toMatch(/\berror = .*\berror_code = /);
    expect(completed.updates[0]).not.toMatch(/\bmax_attempts = /);
    expect(await stored(job.id)).toEqual(completed.result);
  });

  it('sets every column when the row changed since the writer read it, and keeps the other writer’s change', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const job = await t.createJob(tenantId, connectionId, 'refresh');
    const { result: running } = await claim(tenantId, job.id);
    // Another writer (the API) records a cancel request meanwhile: the version moves on.
    const requested = transitionJobOrThrow(running, { type: 'request-cancel' }, { now: new Date(), actor: 'k' });
    await t.store.commitNow([
      { tenantId, before: running, next: requested.job, events: transitionEvents(requested.transition) },
    ]);
    // The worker's completion, computed from its own (older) copy.
    const completed = await complete(tenantId, running);
    expect(completed.updates[0]).toMatch(/\bmax_attempts = .*\bcancel_requested_at = /);
    const after = await stored(job.id);
    expect(after).toEqual(completed.result);
    expect(after.cancelRequestedAt).not.toBeNull();
  });
});
