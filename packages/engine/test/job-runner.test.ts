import { describe, expect, it } from '@jest/globals';
import { createJob, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { pino } from 'pino';
import { ConnectorRegistry, JobRunner, LeaseLostError, type Connector, type JobWrite } from '../src/index.js';
import { TEST_WORKER_CONFIG } from './support/test-database.js';

/** A runner wired to fakes: the connector succeeds, storing accounts fails as `storeError` says. */
function runnerWith(storeError: unknown) {
  const writes: JobWrite[] = [];
  const credentials = { decrypt: () => ({ password: 'pw' }) };
  const connector: Connector = {
    verifyCredentials: async () => undefined,
    retrieveAccounts: async () => [{ externalId: 'a', name: 'A', currency: 'EUR', balanceCents: 1 }],
    retrieveTransactions: async () => [],
  };
  const runner = new JobRunner(
    { findCancelRequest: async () => null } as never,
    { submit: async (w: JobWrite) => (writes.push(w), { job: w.next, change: { id: writes.length } }) } as never,
    {
      upsertAccounts: async () => {
        throw storeError;
      },
    } as never,
    new ConnectorRegistry().register('fake', connector),
    credentials,
    { subscribe: () => () => undefined } as never,
    { observeJob: () => undefined },
    TEST_WORKER_CONFIG,
    pino({ level: 'silent' }),
  );
  const pending = createJob({
    id: '01936d3e-0000-7000-8000-000000000001',
    connectionId: '01936d3e-0000-7000-8000-000000000002',
    action: 'refresh',
    now: new Date(),
  });
  const job: Job = transitionJobOrThrow(
    pending,
    { type: 'claim', workerId: 'w', leaseMs: 60_000 },
    { now: new Date(), actor: 'w' },
  ).job;
  const claimed = {
    job,
    tenantId: 't',
    institutionId: 'fake',
    loginId: 'user-ok',
    credentialsEnc: 'sealed',
  };
  return { runner, claimed, writes };
}

describe('JobRunner failure handling', () => {
  it('requeues a job whose step lost the database (transient), instead of failing it for good', async () => {
    const lost = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { runner, claimed, writes } = runnerWith(lost);
    await runner.run(claimed, 'w', new AbortController().signal);
    const last = writes[writes.length - 1]?.next;
    expect(last).toMatchObject({ status: 'pending', error: { code: 'worker-lost', retryable: true } });
  });

  it('fails a job on an unexpected error, with internal-error and no detail of the cause', async () => {
    const { runner, claimed, writes } = runnerWith(new TypeError('x is not a function'));
    await runner.run(claimed, 'w', new AbortController().signal);
    const last = writes[writes.length - 1]?.next;
    expect(last).toMatchObject({
      status: 'failed',
      error: { code: 'internal-error', detail: 'An unexpected error stopped the job.' },
    });
  });
});

/** A runner over fakes, with the connector and bank-data store given, for a claim with a deadline. */
function runnerOver(connector: Connector, bankData: object, deadlineMs?: number) {
  const writes: JobWrite[] = [];
  const runner = new JobRunner(
    { findCancelRequest: async () => null } as never,
    { submit: async (w: JobWrite) => (writes.push(w), { job: w.next, change: { id: writes.length } }) } as never,
    bankData as never,
    new ConnectorRegistry().register('fake', connector),
    { decrypt: () => ({ password: 'pw' }) },
    { subscribe: () => () => undefined } as never,
    null,
    TEST_WORKER_CONFIG,
    pino({ level: 'silent' }),
  );
  const pending = createJob({
    id: '01936d3e-0000-7000-8000-000000000011',
    connectionId: '01936d3e-0000-7000-8000-000000000012',
    action: 'refresh',
    now: new Date(),
  });
  const job = transitionJobOrThrow(
    pending,
    { type: 'claim', workerId: 'w', leaseMs: 60_000, deadlineMs },
    { now: new Date(), actor: 'w' },
  ).job;
  return { runner, writes, claimed: { job, tenantId: 't', institutionId: 'fake', loginId: 'u', credentialsEnc: 's' } };
}

describe('JobRunner under faults', () => {
  it('a connector that ignores its abort signal cannot hold the job past its deadline', async () => {
    const hung: Connector = {
      verifyCredentials: () => new Promise(() => undefined),
      retrieveAccounts: async () => [],
      retrieveTransactions: async () => [],
    };
    const { runner, claimed, writes } = runnerOver(hung, {}, 150);
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      runner.run(claimed, 'w', new AbortController().signal).then(() => 'ended'),
      new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), 3_000))),
    ]);
    // The fallback timer must not outlive the test (jest waited for it: "did not exit").
    clearTimeout(timer);
    expect(ended).toBe('ended');
    expect(writes[writes.length - 1]?.next).toMatchObject({ status: 'failed', error: { code: 'job-timed-out' } });
  });

  it('stops writing when a bank-data write finds the lease lost: no failure is recorded over the new owner', async () => {
    const connector: Connector = {
      verifyCredentials: async () => undefined,
      retrieveAccounts: async () => [{ externalId: 'a', name: 'A', currency: 'EUR', balanceCents: 1 }],
      retrieveTransactions: async () => [],
    };
    const bankData = {
      upsertAccounts: async (fence: { jobId: string; attempt: number; workerId: string }) => {
        throw new LeaseLostError(fence);
      },
    };
    const { runner, claimed, writes } = runnerOver(connector, bankData);
    await runner.run(claimed, 'w', new AbortController().signal);
    // Progress written before the refused bank write may land; nothing after it, and no terminal state.
    expect(writes.every((w) => w.next.status === 'processing')).toBe(true);
  });
});

describe('JobRunner at shutdown', () => {
  it('releases the job without using up its attempt (a deploy never fails a slow job)', async () => {
    const slow: Connector = {
      verifyCredentials: (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
      retrieveAccounts: async () => [],
      retrieveTransactions: async () => [],
    };
    const { runner, claimed, writes } = runnerOver(slow, {});
    const shutdown = new AbortController();
    const running = runner.run(claimed, 'w', shutdown.signal);
    await new Promise((resolve) => setTimeout(resolve, 50));
    shutdown.abort();
    await running;
    expect(writes[writes.length - 1]?.next).toMatchObject({
      status: 'pending',
      attempt: 1,
      maxAttempts: claimed.job.maxAttempts + 1,
      error: { code: 'worker-lost' },
    });
  });
});
