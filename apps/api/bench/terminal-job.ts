/** The finished jobs the benches seed, as the engine leaves them. */
import { createJob, jobError, type Job, type JobAction, type JobStatus } from '@jobtrail/domain';
import { uuidv7At } from '@jobtrail/engine';

/** A terminal job as the engine leaves it (statuses ~70% success, 20% failed, 10% cancelled). */
export function terminalJob(connectionId: string, createdAt: number, n: number): Job {
  const action: JobAction = n % 5 === 4 ? 'purge' : 'refresh';
  const status: JobStatus = n % 10 < 7 ? 'success' : n % 10 < 9 ? 'failed' : 'cancelled';
  const base = createJob({
    id: uuidv7At(createdAt),
    connectionId,
    action,
    now: new Date(createdAt),
    requestedBy: { id: 'bench', name: 'bench seed' },
  });
  const finishedAt = new Date(createdAt + 3_000);
  return {
    ...base,
    status,
    attempt: status === 'cancelled' ? 0 : 1,
    startedAt: status === 'cancelled' ? null : new Date(createdAt + 500),
    finishedAt,
    updatedAt: finishedAt,
    steps: base.steps.map((s) => ({ ...s, status: status === 'success' ? 'success' : s.status })),
    error:
      status === 'failed'
        ? jobError('institution-unavailable', 'The bank did not answer')
        : status === 'cancelled'
          ? jobError('cancelled', 'Cancelled on request')
          : null,
    result: status === 'success' ? { accounts: 3, transactions: n % 500 } : null,
  };
}
