import {
  assertNever,
  eventForError,
  jobError,
  stepsOf,
  transitionJob,
  type AttemptFence,
  type Job,
  type JobError,
  type JobEvent,
  type JobResult,
  type StepName,
} from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus } from '../bus/job-events.bus.js';
import { systemClock, type Clock } from '../clock.js';
import type { AttemptObserver, CredentialsDecryptor, WorkerConfig } from '../config.js';
import {
  ChallengeRequired,
  ConnectorError,
  type Connector,
  type ConnectorContext,
  type ConnectorRegistry,
  type InstitutionAccount,
} from '../connectors/connector.js';
import { isDatabaseUnavailable } from '../database/database.js';
import { LeaseLostError, type BankDataStore } from '../store/bank-data.store.js';
import { transitionEvents, type ClaimedJob, type JobsStore, type NewJobEvent } from '../store/jobs.store.js';
import type { WriteBatcher } from './write-batcher.js';

/** Why a running job was interrupted from outside its own code. */
export type StopReason = 'lease-lost' | 'deadline' | 'shutdown';

class Stopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`job stopped: ${reason}`);
  }
}

/** What one attempt carries from step to step. */
interface AttemptState {
  accounts: InstitutionAccount[];
  result: Record<string, number>;
}

/**
 * Runs one claimed job to its next resting state: success, failed, cancelled, or back to pending.
 * Every change goes through the domain state machine and is written fenced on the attempt, so a
 * worker that lost its lease changes nothing and simply stops.
 *
 * Status changes are written at once. Step progress is written behind, within `progressFlushMs`:
 * a quick job then costs one write at its end (group-committed with other jobs' writes), while a
 * slow one shows each step shortly after it happens.
 */
export class JobRunner {
  /** Jobs with a cancel request seen on the event bus: honoured at the next step boundary. */
  private readonly cancelRequests = new Map<string, Date>();

  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: JobsStore,
    private readonly batcher: WriteBatcher,
    private readonly bankData: BankDataStore,
    private readonly connectors: ConnectorRegistry,
    private readonly credentials: CredentialsDecryptor,
    bus: JobEventsBus,
    private readonly observer: AttemptObserver | null,
    private readonly config: WorkerConfig,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.unsubscribe = bus.subscribe((c) => {
      if (c.job.cancel_requested && c.job.status === 'processing')
        this.cancelRequests.set(c.job.job_id, new Date(this.clock.now()));
    });
  }

  /** Stops listening for cancel requests. */
  close(): void {
    this.unsubscribe();
  }

  /** Runs the job; `shutdown` aborts it when the worker must release it. Never throws. */
  async run(claimed: ClaimedJob, workerId: string, shutdown: AbortSignal): Promise<void> {
    try {
      await this.runAttempt(claimed, workerId, shutdown);
    } finally {
      this.cancelRequests.delete(claimed.job.id);
    }
  }

  private async runAttempt(claimed: ClaimedJob, workerId: string, shutdown: AbortSignal): Promise<void> {
    const { tenantId } = claimed;
    let job = claimed.job;
    /** The job as last written: the fence of the next write. */
    let persisted = claimed.job;
    const unsaved: NewJobEvent[] = [];
    // Made on first use: most attempts never log from here, and a pino child costs a serialisation.
    let logger: Logger | undefined;
    const log = () =>
      (logger ??= this.logger.child({
        job_id: claimed.job.id,
        connection_id: claimed.job.connectionId,
        attempt: claimed.job.attempt,
      }));
    const stop = new AbortController();
    let rejectStopped!: (reason: Stopped) => void;
    // Settled by stopWith itself, not by a listener on the signal (an EventTarget listener per attempt).
    const stopped = new Promise<never>((_, reject) => (rejectStopped = reject));
    stopped.catch(() => undefined);
    const stopWith = (reason: StopReason) => {
      if (stop.signal.aborted) return;
      const stoppedBy = new Stopped(reason);
      stop.abort(stoppedBy);
      rejectStopped(stoppedBy);
    };
    const pendingLogs: NewJobEvent[] = [];
    const jobLog = (level: 'info' | 'warn' | 'error', step: StepName | null, message: string) =>
      pendingLogs.push({ kind: 'log', at: new Date(this.clock.now()), level, step, message });

    const { leaseMs, progressFlushMs } = this.config;
    /** Until when this worker knows it holds the lease (the last renewal the database confirmed). */
    let leaseConfirmedUntil = job.leaseExpiresAt?.getTime() ?? this.clock.now() + leaseMs;
    // The lease is renewed through the same write path as every other change: a domain heartbeat.
    const heartbeat = setInterval(
      () => {
        // A worker that cannot confirm its lease before it runs out must assume another one took
        // the job over (paused process, unreachable database), and stop writing.
        if (this.clock.now() >= leaseConfirmedUntil) {
          stopWith('lease-lost');
          return;
        }
        // Past its deadline an attempt is not renewed: if it cannot stop (a hung connector), its
        // lease runs out and the sweeper ends it.
        if (job.deadlineAt && this.clock.now() >= job.deadlineAt.getTime()) return;
        const res = transitionJob(
          job,
          { type: 'heartbeat', workerId, leaseMs },
          { now: new Date(this.clock.now()), actor: workerId },
        );
        if (!res.ok) return;
        job = res.job;
        flush().catch((err: unknown) =>
          log().warn({ err: { message: (err as Error).message } }, 'lease renewal failed'),
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    const deadline = job.deadlineAt
      ? setTimeout(() => stopWith('deadline'), Math.max(0, job.deadlineAt.getTime() - this.clock.now()))
      : null;
    const onShutdown = () => stopWith('shutdown');
    shutdown.addEventListener('abort', onShutdown);

    // Writes are chained so they land in order; after a refused one, nothing more is written.
    let writes: Promise<boolean> = Promise.resolve(true);
    let flushTimer: NodeJS.Timeout | null = null;
    const flush = (): Promise<boolean> => {
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      writes = writes.then(async (ok) => {
        if (!ok) return false;
        if (persisted === job && unsaved.length === 0) return true;
        const committed = await this.batcher.submit({
          tenantId,
          before: persisted,
          next: job,
          events: unsaved.splice(0),
          institutionId: claimed.institutionId,
        });
        if (!committed) {
          stopWith('lease-lost');
          return false;
        }
        persisted = committed.job;
        if (persisted.leaseExpiresAt) leaseConfirmedUntil = persisted.leaseExpiresAt.getTime();
        // The stored job may carry a cancel request made meanwhile: honoured at the next step.
        if (persisted.cancelRequestedAt && !this.cancelRequests.has(job.id)) {
          this.cancelRequests.set(job.id, persisted.cancelRequestedAt);
        }
        return true;
      });
      return writes;
    };

    /** Applies an event; status changes are written before it returns (false: the job is no longer ours). */
    const apply = async (event: JobEvent): Promise<boolean> => {
      const res = transitionJob(job, event, { now: new Date(this.clock.now()), actor: workerId });
      if (!res.ok) throw res.error;
      job = res.job;
      unsaved.push(...transitionEvents(res.transition), ...pendingLogs.splice(0));
      if (res.transition) {
        const ok = await flush();
        if (ok && res.job.finishedAt && res.job.startedAt) {
          this.observer?.observeJob(
            job.action,
            job.status,
            (res.job.finishedAt.getTime() - res.job.startedAt.getTime()) / 1000,
          );
        }
        return ok;
      }
      flushTimer ??= setTimeout(() => void flush().catch(() => undefined), progressFlushMs);
      return !stop.signal.aborted || (stop.signal.reason as Stopped).reason !== 'lease-lost';
    };

    try {
      const connector = this.connectors.get(claimed.institutionId);
      if (!connector)
        throw new ConnectorError('internal-error', `No connector for institution "${claimed.institutionId}".`);
      const { password } = this.credentials.decrypt(claimed.credentialsEnc, {
        tenantId: claimed.tenantId,
        connectionId: claimed.job.connectionId,
      });
      const ctx: ConnectorContext = {
        loginId: claimed.loginId,
        password,
        attempt: job.attempt,
        signal: stop.signal,
        log: (message) => jobLog('info', null, message),
      };
      const state: AttemptState = { accounts: [], result: {} };
      const fence: AttemptFence = { jobId: job.id, attempt: job.attempt, workerId };
      for (const step of stepsOf(job.action)) {
        // Step boundary: honour a cancel request made meanwhile.
        const cancelAt = this.cancelRequests.get(job.id);
        if (cancelAt) {
          job = { ...job, cancelRequestedAt: cancelAt };
          jobLog('info', null, `stopped before ${step}: cancel requested`);
          await apply({ type: 'stop-cancelled' });
          return;
        }
        if (stop.signal.aborted) throw stop.signal.reason;
        // A resumed job (its challenge answered) goes on after the steps it already passed.
        if (job.steps.find((s) => s.name === step)?.status === 'success') continue;
        // Steps record their own start and end times; log lines are for what happened inside them.
        if (!(await apply({ type: 'step-started', step }))) return;
        // A connector that ignores its abort signal must not hold the attempt (and its connection)
        // forever: a stop ends the wait whatever the step is doing.
        try {
          await Promise.race([
            this.runStep(step, connector, { ...ctx, log: (m) => jobLog('info', step, m) }, job, fence, state),
            stopped,
          ]);
        } catch (err) {
          if (!(err instanceof ChallengeRequired) || stop.signal.aborted) throw err;
          // The institution asks for a one-time code: the job is parked (step `action-required`,
          // a challenge, no lease, no deadline) and this worker's slot is free at once. A cancel
          // asked meanwhile wins.
          const cancelAt = this.cancelRequests.get(job.id) ?? (await this.store.findCancelRequest(job.id));
          if (cancelAt) {
            job = { ...job, cancelRequestedAt: cancelAt };
            jobLog('info', step, 'stopped: cancel requested');
            await apply({ type: 'stop-cancelled' });
            return;
          }
          const expiresAt = new Date(this.clock.now() + this.config.mfaTimeoutMs);
          jobLog('info', step, `waiting for a one-time code until ${expiresAt.toISOString()}`);
          await apply({ type: 'await-code', prompt: err.prompt, expiresAt });
          return;
        }
        if (stop.signal.aborted) throw stop.signal.reason;
        if (!(await apply({ type: 'step-succeeded', step }))) return;
      }
      jobLog(
        'info',
        null,
        `finished: ${
          Object.entries(state.result)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'no data'
        }`,
      );
      await apply({ type: 'succeed', result: state.result as JobResult });
    } catch (err) {
      // Stopped from outside (shutdown, deadline, lost lease): that is why it ended, whatever the
      // connector threw when its signal fired (e.g. the AbortError of an aborted timer).
      // A bank-data write refused by its fence means the same as a lost lease.
      if (err instanceof LeaseLostError) stopWith('lease-lost');
      const cause = stop.signal.aborted ? stop.signal.reason : err;
      await this.handleFailure(cause, job, apply, jobLog, log).catch((writeErr: unknown) =>
        // The database may be down: the lease will expire and the sweeper will requeue the job.
        log().error({ err: { message: (writeErr as Error).message } }, 'could not record the job failure'),
      );
    } finally {
      if (flushTimer) clearTimeout(flushTimer);
      clearInterval(heartbeat);
      if (deadline) clearTimeout(deadline);
      shutdown.removeEventListener('abort', onShutdown);
    }
  }

  private async handleFailure(
    err: unknown,
    job: Job,
    apply: (event: JobEvent) => Promise<boolean>,
    jobLog: (level: 'info' | 'warn' | 'error', step: StepName | null, message: string) => void,
    log: () => Logger,
  ): Promise<void> {
    const reason = err instanceof Stopped ? err.reason : null;
    if (reason === 'lease-lost') {
      log().warn('lease lost; another worker owns the job now');
      return;
    }
    const running = job.steps.find((s) => s.status === 'running')?.name ?? null;
    if (reason === 'deadline') {
      jobLog('error', running, 'the attempt passed its deadline');
      await apply({ type: 'deadline-passed' });
      return;
    }
    const cancelAt = await this.store.findCancelRequest(job.id);
    const current = cancelAt ? { ...job, cancelRequestedAt: cancelAt } : job;
    if (reason === 'shutdown') {
      // Given back unfinished (a deploy): the attempt does not count against the job.
      const released = jobError('worker-lost', 'The worker shut down before the job finished; the job was released.');
      jobLog('warn', running, `${released.code}: ${released.detail}`);
      await apply(current.cancelRequestedAt ? { type: 'stop-cancelled' } : { type: 'release', error: released });
      return;
    }
    let error: JobError;
    if (err instanceof ConnectorError) error = jobError(err.code, err.detail, err.retryable);
    // The database went away during a step (restart, failover): transient, so the job is retried.
    else if (isDatabaseUnavailable(err))
      error = jobError('worker-lost', 'The worker lost its database connection during the job.');
    else {
      log().error(
        { err: { name: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack } },
        'job failed unexpectedly',
      );
      error = jobError('internal-error', 'An unexpected error stopped the job.');
    }
    const event = eventForError(current, error, new Date(this.clock.now()), { baseMs: this.config.backoffBaseMs });
    jobLog(
      event.type === 'requeue' ? 'warn' : 'error',
      running,
      `${error.code}: ${error.detail}${event.type === 'requeue' ? ` (retrying after ${event.runAt.toISOString()})` : ''}`,
    );
    await apply(event);
  }

  private async runStep(
    step: StepName,
    connector: Connector,
    ctx: ConnectorContext,
    job: Job,
    fence: AttemptFence,
    state: AttemptState,
  ): Promise<void> {
    switch (step) {
      case 'verify-credentials':
        await connector.verifyCredentials(ctx);
        return;
      case 'retrieve-accounts':
        state.accounts = await connector.retrieveAccounts(ctx);
        state.result.accounts = await this.bankData.upsertAccounts(fence, job.connectionId, state.accounts);
        ctx.log(`${state.result.accounts} accounts stored`);
        return;
      case 'retrieve-transactions': {
        const transactions = await connector.retrieveTransactions(ctx, state.accounts);
        state.result.transactions = await this.bankData.upsertTransactions(fence, job.connectionId, transactions);
        ctx.log(`${state.result.transactions} transactions stored`);
        return;
      }
      case 'delete-transactions':
        state.result.transactions_deleted = await this.bankData.deleteTransactions(fence, job.connectionId);
        ctx.log(`${state.result.transactions_deleted} transactions deleted`);
        return;
      case 'delete-accounts':
        state.result.accounts_deleted = await this.bankData.deleteAccounts(fence, job.connectionId);
        ctx.log(`${state.result.accounts_deleted} accounts deleted`);
        return;
      default:
        return assertNever(step, 'step');
    }
  }
}
