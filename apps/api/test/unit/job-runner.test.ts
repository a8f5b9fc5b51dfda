import { describe, expect, it } from '@jest/globals';
import { createJob, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { pino } from 'pino';
import type { AppConfig } from '../../src/config/app-config.js';
import { CredentialsCipher } from '../../src/connections/credentials-cipher.js';
import { JobRunner } from '../../src/worker/job-runner.js';
import { ConnectorRegistry, type Connector } from '../../src/worker/connector.js';
import type { JobWrite } from '../../src/worker/worker.repository.js';
import { TEST_WORKER_CONFIG } from '../support/test-app.js';

/** A runner wired to fakes: the connector succeeds, storing accounts fails as `storeError` says. */
function runnerWith(storeError: unknown) {
  const writes: JobWrite[] = [];
  const key = Buffer.alloc(32, 7);
  const cipher = new CredentialsCipher(key);
  const connector: Connector = {
    verifyCredentials: async () => undefined,
    retrieveAccounts: async () => [{ externalId: 'a', name: 'A', currency: 'EUR', balanceCents: 1 }],
    retrieveTransactions: async () => [],
  };
  const runner = new JobRunner(
    { renewLease: async () => ({ cancelRequestedAt: null }), findCancelRequest: async () => null } as never,
    { submit: async (w: JobWrite) => (writes.push(w), { id: writes.length }) } as never,
    {
      upsertAccounts: async () => {
        throw storeError;
      },
    } as never,
    new ConnectorRegistry().register('fake', connector),
    cipher,
    { subscribe: () => () => undefined } as never,
    { observeJob: () => undefined } as never,
    { worker: TEST_WORKER_CONFIG } as AppConfig,
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
    credentialsEnc: cipher.encrypt({ password: 'pw' }, { tenantId: 't', connectionId: job.connectionId }),
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
