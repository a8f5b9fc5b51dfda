import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { eventForError, jobError, publicActor, transitionJob } from '@jobtrail/domain';
import type { Logger } from 'pino';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { Database, isUniqueViolation } from '../database/database.js';
import { JobEventsBus, type JobChange } from '../events/job-events.bus.js';
import { JobRunner } from './job-runner.js';
import { acquireSqliteWorkerLock } from './worker-lock.js';
import { WorkerRepository, transitionEvents, type ClaimedJob, type JobWrite } from './worker.repository.js';

/**
 * The worker: claims due jobs (up to its concurrency), runs them, and sweeps expired leases. It
 * wakes at once on new work (LISTEN/NOTIFY or the in-process bus) and polls only as a fallback.
 */
@Injectable()
export class WorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly running = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private started = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private loopDone: Promise<void> = Promise.resolve();
  private sweeper: NodeJS.Timeout | null = null;
  private cleanups: Array<() => void> = [];

  constructor(
    private readonly db: Database,
    private readonly repo: WorkerRepository,
    private readonly runner: JobRunner,
    private readonly bus: JobEventsBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    // Every running job listens to the shutdown signal.
    setMaxListeners(0, this.shutdown.signal);
    if (this.db.kind === 'sqlite') this.cleanups.push(acquireSqliteWorkerLock(this.config.dataDir));
    this.started = true;
    this.cleanups.push(
      this.bus.subscribe((c) => c.type === 'job.created' && this.wake()),
      this.bus.onReconnect(() => this.wake()),
    );
    const sweepEvery = Math.max(100, Math.floor(this.config.worker.leaseMs / 2));
    this.sweeper = setInterval(() => void this.sweepExpiredLeases(), sweepEvery);
    this.loopDone = this.loop();
    this.log.info({ worker_id: this.workerId, concurrency: this.config.worker.concurrency }, 'worker started');
  }

  /** SIGTERM: stop claiming, let running jobs finish within the grace period, release the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.wake();
    if (this.sweeper) clearInterval(this.sweeper);
    await this.loopDone;
    const all = () => Promise.allSettled([...this.running.values()]);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), this.config.worker.shutdownGraceMs)),
    );
    const outcome = await Promise.race([all().then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn({ jobs: this.running.size }, 'grace period over: releasing running jobs');
      this.shutdown.abort();
      await all();
    }
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.log.info({ worker_id: this.workerId }, 'worker stopped');
  }

  /** Jobs this worker is running now. */
  get inFlight(): number {
    return this.running.size;
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async sleep(ms: number): Promise<void> {
    if (this.woken) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = null;
  }

  private async loop(): Promise<void> {
    const { concurrency, pollMs } = this.config.worker;
    while (!this.stopping) {
      this.woken = false;
      const free = concurrency - this.running.size;
      let claimed: ClaimedJob[] = [];
      if (free > 0) {
        try {
          claimed = await this.claim(free);
        } catch (err) {
          this.log.warn({ err: { message: (err as Error).message } }, 'claiming failed; retrying');
          await this.sleep(Math.min(pollMs, 1_000));
          continue;
        }
        for (const c of claimed) this.start(c);
      }
      if (this.stopping) break;
      // A full batch means more may be due: look again at once (when there is room).
      if (claimed.length > 0 && claimed.length === free) continue;
      let wait = pollMs;
      if (free > 0 && claimed.length === 0) {
        const next = await this.repo.nextRunAt().catch(() => null);
        if (next !== null) wait = Math.max(5, Math.min(pollMs, next - Date.now()));
      }
      await this.sleep(wait);
    }
  }

  private start(c: ClaimedJob): void {
    const p = this.runner.run(c, this.workerId, this.shutdown.signal).finally(() => {
      this.running.delete(c.job.id);
      // A slot is free, and the connection's next job may now be due.
      this.wake();
    });
    this.running.set(c.job.id, p);
  }

  /** Claims up to `limit` due jobs in one transaction; every claim is a domain transition. */
  private async claim(limit: number): Promise<ClaimedJob[]> {
    const { leaseMs, jobDeadlineMs } = this.config.worker;
    let changes: Array<JobChange | null> = [];
    let claimed: ClaimedJob[] = [];
    try {
      claimed = await this.db.transaction(async (tx) => {
        const now = new Date();
        const due = await this.repo.lockDueJobs(tx, now.getTime(), limit);
        const writes: JobWrite[] = [];
        const next: ClaimedJob[] = [];
        for (const c of due) {
          const res = transitionJob(
            c.job,
            { type: 'claim', workerId: this.workerId, leaseMs, deadlineMs: jobDeadlineMs },
            { now, actor: this.workerId },
          );
          if (!res.ok) continue;
          writes.push({ tenantId: c.tenantId, before: c.job, next: res.job, events: transitionEvents(res.transition) });
          next.push({ ...c, job: res.job });
        }
        changes = await this.repo.writeFenced(tx, writes);
        return next.filter((_, i) => changes[i] !== null);
      });
    } catch (err) {
      // Another process claimed a job of the same connection first: nothing to do this round.
      if (isUniqueViolation(err)) return [];
      throw err;
    }
    // Not awaited: the outbox keeps the order of events, and jobs need not wait for it.
    this.bus
      .publish(changes.filter((c): c is JobChange => c !== null))
      .catch((err: unknown) => this.log.warn({ err: { message: (err as Error).message } }, 'could not publish claims'));
    return claimed;
  }

  /** Returns jobs whose worker stopped renewing its lease to pending (or fails them when spent). */
  async sweepExpiredLeases(): Promise<number> {
    try {
      const changes = await this.db.transaction(async (tx) => {
        const now = new Date();
        const expired = await this.repo.lockExpiredLeases(tx, now.getTime(), 100);
        const writes: JobWrite[] = [];
        for (const { job, tenantId } of expired) {
          const error = jobError(
            'worker-lost',
            `The lease of worker ${job.leaseOwner === null ? '?' : publicActor(job.leaseOwner)} expired at ${job.leaseExpiresAt?.toISOString() ?? '?'}.`,
          );
          const res = transitionJob(job, eventForError(job, error, now, { baseMs: this.config.worker.backoffBaseMs }), {
            now,
            actor: `sweeper:${this.workerId}`,
          });
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
        return this.repo.writeFenced(tx, writes);
      });
      const done = changes.filter((c): c is JobChange => c !== null);
      if (done.length > 0) {
        this.log.warn({ jobs: done.map((c) => c.job.job_id) }, 'expired leases swept');
        await this.bus.publish(done);
        this.wake();
      }
      return done.length;
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'lease sweep failed');
      return 0;
    }
  }
}
