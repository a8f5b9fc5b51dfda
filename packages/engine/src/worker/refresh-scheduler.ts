import {
  SCHEDULE_REQUESTER,
  createJob,
  isConnectionStatus,
  nextRefreshSlot,
  scheduledRefreshDecision,
  type ScheduledRefreshDecision,
} from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus } from '../bus/job-events.bus.js';
import { systemClock, type Clock } from '../clock.js';
import { isUniqueViolation, type Database, type SqlExecutor } from '../database/database.js';
import { uuidv7 } from '../ids.js';
import type { CommittedWrite, JobsStore } from '../store/jobs.store.js';

/** Slots claimed per transaction. */
const SLOTS_PER_ROUND = 100;

/** A connection whose refresh slot is due, as the scheduler locks it. */
interface DueSlot {
  id: string;
  tenant_id: string;
  institution_id: string;
  status: string;
  refresh_every_hours: number | string;
  next_refresh_at: number | string;
}

/**
 * Whether an institution's circuit is open (scheduled refreshes to it are deferred). Reads through
 * the scheduler's transaction (`tx`): on SQLite a read outside it would wait for it forever.
 */
export type InstitutionGate = (tx: SqlExecutor, institutionId: string, now: number) => Promise<boolean>;

/**
 * Starts scheduled refreshes. Each round, in one transaction, it locks due slots (PostgreSQL:
 * `FOR UPDATE SKIP LOCKED`; SQLite has one writer), moves each connection to its next slot with an
 * update conditioned on the slot it read, and — as the domain's `scheduledRefreshDecision` says —
 * creates the refresh through the store's one write path, in the same transaction. A slot is
 * therefore claimed once, whatever the number of workers, and yields at most one job. Time is
 * the database's clock.
 */
export class RefreshScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly store: JobsStore,
    private readonly bus: JobEventsBus,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly pollMs = 10_000,
    private readonly institutionDown: InstitutionGate = async () => false,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.runDue().catch((err: unknown) =>
        this.log.warn({ err: { message: (err as Error).message } }, 'refresh scheduling failed'),
      );
      // A little jitter, so workers started together do not all look at the same instant.
      this.timer = setTimeout(tick, Math.round(this.pollMs * (0.9 + Math.random() * 0.2)));
    };
    this.timer = setTimeout(tick, Math.round(this.pollMs * Math.random()));
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One round: claims due slots and starts their refreshes. Returns what it decided per slot. */
  async runDue(): Promise<Record<ScheduledRefreshDecision, number>> {
    const counts: Record<ScheduledRefreshDecision, number> = { start: 0, 'skip-active': 0, paused: 0, deferred: 0 };
    let committed: Array<CommittedWrite | null> = [];
    try {
      committed = await this.db.transaction(async (tx) => {
        const now = this.clock.now();
        const due = await this.lockDueSlots(tx, now);
        const writes = [];
        for (const slot of due) {
          const at = Number(slot.next_refresh_at);
          const every = Number(slot.refresh_every_hours);
          // The claim: only the transaction that moves the slot it read starts its refresh.
          const moved = await tx.execute(
            'UPDATE connections SET next_refresh_at = $1 WHERE id = $2 AND next_refresh_at = $3',
            [nextRefreshSlot(at, every, now), slot.id, at],
          );
          if (moved !== 1) continue;
          const active = await tx.query(
            `SELECT 1 AS one FROM jobs WHERE connection_id = $1 AND action = 'refresh' AND status IN ('pending', 'processing')`,
            [slot.id],
          );
          const decision = scheduledRefreshDecision({
            status: isConnectionStatus(slot.status) ? slot.status : 'pending',
            activeRefresh: active.length > 0,
            institutionDown: await this.institutionDown(tx, slot.institution_id, now),
          });
          counts[decision] += 1;
          if (decision !== 'start') continue;
          const job = createJob({
            id: uuidv7(now),
            connectionId: slot.id,
            action: 'refresh',
            now: new Date(now),
            requestedBy: SCHEDULE_REQUESTER,
          });
          writes.push({
            tenantId: slot.tenant_id,
            before: null,
            next: job,
            events: [
              { kind: 'created', at: job.createdAt, actor: SCHEDULE_REQUESTER.id, reason: 'scheduled' } as const,
              {
                kind: 'log',
                at: job.createdAt,
                level: 'info',
                step: null,
                message: `scheduled refresh (every ${every} h, slot ${new Date(at).toISOString()})`,
              } as const,
            ],
          });
        }
        return this.store.commit(tx, writes, { last: true });
      });
    } catch (err) {
      // An API request started a refresh of one of these connections meanwhile: nothing was
      // claimed (the round rolled back); the next round finds that refresh active and moves on.
      if (isUniqueViolation(err)) return counts;
      throw err;
    }
    const changes = committed.flatMap((c) => (c ? [c.change] : []));
    if (changes.length > 0) {
      this.log.info({ jobs: changes.map((c) => c.job.job_id) }, 'scheduled refreshes started');
      await this.bus.publish(changes);
    }
    return counts;
  }

  private lockDueSlots(tx: SqlExecutor, now: number): Promise<DueSlot[]> {
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    return tx.query<DueSlot>(
      `SELECT id, tenant_id, institution_id, status, refresh_every_hours, next_refresh_at FROM connections
        WHERE next_refresh_at <= $1 ORDER BY next_refresh_at LIMIT $2 ${lock}`,
      [now, SLOTS_PER_ROUND],
    );
  }
}
