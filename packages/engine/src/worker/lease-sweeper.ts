import { challengeExpiredEvent, eventForError, jobError, publicActor, transitionJob } from '@jobtrail/domain';
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
        const writes: JobWrite[] = [];
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
          const res = transitionJob(job, event, { now, actor: this.actor });
          if (!res.ok) continue;
          writes.push({
            tenantId,
            before: job,
            next: res.job,
            events: [
              ...transitionEvents(res.transition),
              { kind: 'log', at: now, level: 'warn', step: null, message: error.detail },
            ],
          });
        }
        // One-time-code challenges nobody answered in time fail the job (`mfa-timeout`).
        for (const { job, tenantId } of await this.store.lockExpiredChallenges(tx, now.getTime(), 100)) {
          const event = challengeExpiredEvent(job);
          const res = transitionJob(job, event, { now, actor: this.actor });
          if (!res.ok) continue;
          writes.push({
            tenantId,
            before: job,
            next: res.job,
            events: [
              ...transitionEvents(res.transition),
              {
                kind: 'log',
                at: now,
                level: 'warn',
                step: res.job.steps.find((s) => s.status === 'failed')?.name ?? null,
                message: res.job.error?.detail ?? 'the one-time-code challenge expired',
              },
            ],
          });
        }
        return this.store.commit(tx, writes);
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
