import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import {
  DEFAULT_CIRCUIT_COOLDOWN_MS,
  circuitAdmits,
  circuitIsOpen,
  transitionJob,
  type InstitutionCircuit,
} from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus } from '../bus/job-events.bus.js';
import { systemClock, type Clock } from '../clock.js';
import type { WorkerConfig } from '../config.js';
import { isUniqueViolation, type Database } from '../database/database.js';
import {
  transitionEvents,
  type ClaimedJob,
  type CommittedWrite,
  type JobWrite,
  type JobsStore,
} from '../store/jobs.store.js';
import type { JobRunner } from './job-runner.js';
import { LeaseSweeper } from './lease-sweeper.js';
import { acquireSqliteWorkerLock } from './worker-lock.js';

/** How soon to look again when a claimable job was taken by another worker first. */
const CONTENDED_RETRY_MS = 100;

/**
 * The worker: claims due jobs (up to its concurrency), runs them, and sweeps expired leases. It
 * wakes at once on new work (LISTEN/NOTIFY or the in-process bus) and polls only as a fallback.
 */
export class JobWorker {
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly running = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private started = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  /**
   * Whether a parked job may be resumable: looking costs the claim a query, so it is done only when
   * a challenge was answered (its change says so), after a reconnection (changes may have been
   * missed), at the start, and at least once a poll interval whatever wakes the loop (a missed
   * announcement must not wait for a quiet moment that a steady flow of other changes never gives).
   */
  private mayResume = true;
  /** When it last looked (`performance.now()`: a local interval, not a time of the database's). */
  private resumeLookedAt = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private sweeper: NodeJS.Timeout | null = null;
  private cleanups: Array<() => void> = [];

  /** `dataDir`: where the SQLite worker lock lives (one worker process per SQLite file). */
  constructor(
    private readonly db: Database,
    private readonly store: JobsStore,
    private readonly runner: JobRunner,
    private readonly bus: JobEventsBus,
    private readonly config: WorkerConfig,
    private readonly dataDir: string,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Starts claiming and sweeping. */
  start(): void {
    // Every running job listens to the shutdown signal.
    setMaxListeners(0, this.shutdown.signal);
    if (this.db.kind === 'sqlite') this.cleanups.push(acquireSqliteWorkerLock(this.dataDir));
    this.started = true;
    this.cleanups.push(
      // New work, or a job that left processing (its connection's next job may now be claimable).
      // Or a challenge answered: its parked job waits for a worker to resume it.
      this.bus.subscribe((c) => {
        if (c.resumable === true) this.mayResume = true;
        if (c.type === 'job.created' || c.job.status !== 'processing' || c.resumable === true) this.wake();
      }),
      this.bus.onReconnect(() => {
        this.mayResume = true;
        this.wake();
      }),
    );
    const sweepEvery = Math.max(100, Math.floor(this.config.leaseMs / 2));
    const sweeper = new LeaseSweeper(
      this.db,
      this.store,
      this.bus,
      this.config,
      this.log,
      `sweeper:${this.workerId}`,
      this.clock,
    );
    this.sweeper = setInterval(() => void sweeper.sweepExpiredLeases().then((n) => n > 0 && this.wake()), sweepEvery);
    this.loopDone = this.loop();
    this.log.info({ worker_id: this.workerId, concurrency: this.config.concurrency }, 'worker started');
  }

  /** SIGTERM: stop claiming, let running jobs finish within the grace period, release the rest. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.wake();
    if (this.sweeper) clearInterval(this.sweeper);
    await this.loopDone;
    const all = () => Promise.allSettled([...this.running.values()]);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), this.config.shutdownGraceMs)),
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
    const { concurrency, pollMs } = this.config;
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
        for (const c of claimed) this.runClaimed(c);
      }
      if (this.stopping) break;
      // A full batch means more may be due: look again at once (when there is room).
      if (claimed.length > 0 && claimed.length === free) continue;
      let wait = pollMs;
      if (free > 0 && claimed.length === 0) {
        // Sleep until a job can actually be claimed. Jobs queued behind a processing job of their
        // connection, or behind an older job waiting for its backoff, are not due however old their
        // run_at: the completion that frees them wakes this loop (its event), not a timer.
        const next = await this.store.nextClaimableAt().catch(() => null);
        if (next !== null) {
          const until = next - this.clock.now();
          // Claimable now yet nothing was claimed: another worker holds it (SKIP LOCKED). Look again soon, not at once.
          wait = Math.min(pollMs, until > 0 ? until : CONTENDED_RETRY_MS);
        }
      }
      await this.sleep(wait);
    }
  }

  private runClaimed(c: ClaimedJob): void {
    const p = this.runner.run(c, this.workerId, this.shutdown.signal).finally(() => {
      this.running.delete(c.job.id);
      // A slot is free, and the connection's next job may now be due.
      this.wake();
    });
    this.running.set(c.job.id, p);
  }

  /** Claims up to `limit` due jobs in one transaction; every claim is a domain transition. */
  private async claim(limit: number): Promise<ClaimedJob[]> {
    const { leaseMs, jobDeadlineMs, circuitCooldownMs } = this.config;
    let committed: Array<CommittedWrite | null> = [];
    let claimed: ClaimedJob[] = [];
    try {
      claimed = await this.db.transaction(async (tx) => {
        const now = new Date(this.clock.now());
        const due = await this.store.lockDueJobs(tx, now.getTime(), limit);
        // Parked jobs whose one-time code was answered go on in the same attempt, after the step.
        // The hint is cleared before the look, so a change arriving during it sets it again.
        let resumable: ClaimedJob[] = [];
        if (due.length < limit && (this.mayResume || performance.now() - this.resumeLookedAt >= this.config.pollMs)) {
          this.mayResume = false;
          this.resumeLookedAt = performance.now();
          resumable = await this.store.lockResumableJobs(tx, limit - due.length);
          if (resumable.length === limit - due.length) this.mayResume = true;
        }
        // An institution whose circuit is open gets its jobs held (attempts untouched), but one probe.
        // The claim's read brought each institution's circuit (unlocked); an open one is read again, locked.
        const institutionIds = [...new Set(due.map((c) => c.institutionId))];
        let circuits = new Map<string, InstitutionCircuit>();
        for (const c of due) if (c.circuit) circuits.set(c.institutionId, c.circuit);
        if (due.some((c) => c.circuit === undefined))
          circuits = await this.store.loadCircuits(tx, institutionIds, false);
        if ([...circuits.values()].some(circuitIsOpen))
          circuits = await this.store.loadCircuits(tx, institutionIds, true);
        const probes: InstitutionCircuit[] = [];
        const holds: JobWrite[] = [];
        const writes: JobWrite[] = [];
        const next: ClaimedJob[] = [];
        for (const [c, type] of [
          ...due.map((c) => [c, 'claim'] as const),
          ...resumable.map((c) => [c, 'resume'] as const),
        ]) {
          const circuit = type === 'claim' ? circuits.get(c.institutionId) : undefined;
          if (circuit && circuitIsOpen(circuit)) {
            const admission = circuitAdmits(circuit, now.getTime(), circuitCooldownMs ?? DEFAULT_CIRCUIT_COOLDOWN_MS);
            if (admission.admit === 'hold') {
              const held = transitionJob(
                c.job,
                { type: 'hold', runAt: new Date(admission.until) },
                { now, actor: this.workerId },
              );
              if (held.ok)
                holds.push({
                  tenantId: c.tenantId,
                  before: c.job,
                  next: held.job,
                  events: [
                    {
                      kind: 'log',
                      at: now,
                      level: 'warn',
                      step: null,
                      message: `held until ${new Date(admission.until).toISOString()}: institution ${c.institutionId} is down (circuit ${circuit.state}); no attempt used`,
                    },
                  ],
                });
              continue;
            }
            if (admission.admit === 'probe') {
              circuits.set(c.institutionId, admission.circuit);
              probes.push(admission.circuit);
            }
          }
          const res = transitionJob(
            c.job,
            { type, workerId: this.workerId, leaseMs, deadlineMs: jobDeadlineMs },
            { now, actor: this.workerId },
          );
          if (!res.ok) continue;
          writes.push({ tenantId: c.tenantId, before: c.job, next: res.job, events: transitionEvents(res.transition) });
          next.push({ ...c, job: res.job });
        }
        await this.store.saveCircuits(tx, probes, now.getTime());
        // Claims first: their results line up with `next`; the holds follow.
        writes.push(...holds);
        // lockDueJobs and lockResumableJobs read and locked these rows in this transaction.
        committed = await this.store.commit(tx, writes, {
          locked: [...due, ...resumable].map((c) => c.job),
          last: true,
        });
        // The runner starts from each job as stored (its version counted): its first write is then
        // known to be computed from the stored row (see JobsStore.commit on SQLite).
        return next.flatMap((c, i) => {
          const stored = committed[i];
          return stored ? [{ ...c, job: stored.job }] : [];
        });
      });
    } catch (err) {
      // Rolled back: any resumable job it read is still there.
      this.mayResume = true;
      // Another process claimed a job of the same connection first: nothing to do this round.
      if (isUniqueViolation(err)) return [];
      throw err;
    }
    // Not awaited: the outbox keeps the order of events, and jobs need not wait for it.
    this.bus
      .publish(committed.flatMap((c) => (c ? [c.change] : [])))
      .catch((err: unknown) => this.log.warn({ err: { message: (err as Error).message } }, 'could not publish claims'));
    return claimed;
  }
}
