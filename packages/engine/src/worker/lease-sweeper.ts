import {
  challengeExpiredEvent,
  eventForError,
  jobError,
  publicActor,
  transitionJob,
  type Job,
  type JobEvent,
  type StepName,
} from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus } from '../bus/job-events.bus.js';
import { systemClock, type Clock } from '../clock.js';
import type { WorkerConfig } from '../config.js';
import type { Database } from '../database/database.js';
import { transitionEvents, type JobWrite, type JobsStore } from '../store/jobs.store.js';

/**
 * Returns jobs whose worker stopped renewing its lease (killed, paused, cut off) to pending with
 * `worker-lost`, or fails them when their attempts are spent: a domain transition, committed
 * through the store's one write path like every other change.
 */
export class LeaseSweeper {
  constructor(
    private readonly db: Database,
    private readonly store: JobsStore,
    private readonly bus: JobEventsBus,
    private readonly config: Pick<WorkerConfig, 'backoffBaseMs'>,
    private readonly log: Logger,
    private readonly actor: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Returns jobs whose worker stopped renewing its lease to pending (or fails them when spent), and
   * fails jobs past their deadline whatever their worker is doing (a hung connector included).
   */
  async sweepExpiredLeases(): Promise<number> {
    try {
      const committed = await this.db.transaction(async (tx) => {
        const now = new Date(this.clock.now());
        const expired = await this.store.lockExpiredLeases(tx, now.getTime(), 100);
        // One-time-code challenges nobody answered in time fail the job (`mfa-timeout`).
        const lapsed = await this.store.lockExpiredChallenges(tx, now.getTime(), 100);
        const writes: JobWrite[] = [];
        /** The job's change by `event`, with a warning naming why (nothing if the rules refuse it). */
        const sweep = (job: Job, tenantId: string, event: JobEvent, log: (next: Job) => [StepName | null, string]) => {
          const res = transitionJob(job, event, { now, actor: this.actor });
          if (!res.ok) return;
          const [step, message] = log(res.job);
          writes.push({
            tenantId,
            before: job,
            next: res.job,
            events: [...transitionEvents(res.transition), { kind: 'log', at: now, level: 'warn', step, message }],
          });
        };
        for (const { job, tenantId } of expired) {
          const pastDeadline = job.deadlineAt !== null && job.deadlineAt.getTime() <= now.getTime();
          const error = pastDeadline
            ? jobError('job-timed-out', `The attempt passed its deadline (${job.deadlineAt?.toISOString()}).`)
            : jobError(
                'worker-lost',
                `The lease of worker ${job.leaseOwner === null ? '?' : publicActor(job.leaseOwner)} expired at ${job.leaseExpiresAt?.toISOString() ?? '?'}.`,
              );
          const event = pastDeadline
            ? ({ type: 'deadline-passed' } as const)
            : eventForError(job, error, now, { baseMs: this.config.backoffBaseMs });
          sweep(job, tenantId, event, () => [null, error.detail]);
        }
        for (const { job, tenantId } of lapsed)
          sweep(job, tenantId, challengeExpiredEvent(job), (next) => [
            next.steps.find((s) => s.status === 'failed')?.name ?? null,
            next.error?.detail ?? 'the one-time-code challenge expired',
          ]);
        // Both lists were read and locked in this transaction.
        return this.store.commit(tx, writes, { locked: [...expired, ...lapsed].map((e) => e.job), last: true });
      });
      const done = committed.flatMap((c) => (c ? [c.change] : []));
      if (done.length > 0) {
        this.log.warn({ jobs: done.map((c) => c.job.job_id) }, 'expired leases and deadlines swept');
        await this.bus.publish(done);
      }
      return done.length;
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'lease sweep failed');
      return 0;
    }
  }
}
