import { TERMINAL_STATUSES, retentionDays } from '@jobtrail/domain';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { RetentionConfig } from '../config.js';
import { placeholders, type Database } from '../database/database.js';
import { EventPartitions } from './event-partitions.js';

/** Jobs deleted per statement: short transactions that never hold the queue up for long. */
const BATCH = 1_000;

/**
 * Deletes finished jobs (and their events) once their retention period is over. On PostgreSQL it
 * also keeps `job_events`' monthly partitions: creates the coming months, and drops old partitions
 * whose jobs have all expired before deleting those jobs, so their events go as whole files.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  readonly partitions: EventPartitions | null;

  constructor(
    private readonly db: Database,
    private readonly config: RetentionConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.partitions = db.kind === 'postgres' ? new EventPartitions(db, log) : null;
  }

  /** Runs the cleanup every `sweepMs` (in worker processes; API-only processes stay lean). */
  start(): void {
    this.timer = setInterval(
      () =>
        void this.purgeExpired().catch((err: unknown) =>
          this.log.warn({ err: { message: (err as Error).message } }, 'retention cleanup failed'),
        ),
      this.config.sweepMs,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Deletes every expired job, in batches; returns how many. */
  async purgeExpired(now = this.clock.now()): Promise<number> {
    if (this.partitions) {
      // Partition upkeep must not hold up the deletes: a partition that could not be dropped (its
      // lock not granted in time) has its events deleted by rows below, and the next run retries.
      await this.partitions
        .createAhead(now)
        .catch((err: unknown) =>
          this.log.warn({ err: { message: (err as Error).message } }, 'job_events partitions not created'),
        );
      await this.partitions
        .dropExpired(now, this.config)
        .catch((err: unknown) =>
          this.log.warn({ err: { message: (err as Error).message } }, 'job_events partitions not dropped'),
        );
    }
    let total = 0;
    for (const status of TERMINAL_STATUSES) {
      const days = retentionDays(status, this.config);
      if (days === null) continue;
      const cutoff = now - days * 86_400_000;
      for (;;) {
        const deleted = await this.db.transaction(async (tx) => {
          const ids = (
            await tx.query<{ id: string }>('SELECT id FROM jobs WHERE status = $1 AND finished_at < $2 LIMIT $3', [
              status,
              cutoff,
              BATCH,
            ])
          ).map((r) => r.id);
          if (ids.length === 0) return 0;
          const list = placeholders(ids.length);
          // On PostgreSQL the foreign key's cascade deletes them with the jobs, probing every
          // partition per job (nothing tells it the month); deleting them first would probe them all again.
          if (this.db.kind === 'sqlite') await tx.execute(`DELETE FROM job_events WHERE job_id IN (${list})`, ids);
          await tx.execute(`UPDATE connections SET latest_job_id = NULL WHERE latest_job_id IN (${list})`, ids);
          return tx.execute(`DELETE FROM jobs WHERE id IN (${list})`, ids);
        });
        total += deleted;
        if (deleted < BATCH) break;
      }
    }
    if (total > 0) this.log.info({ jobs: total }, 'expired jobs deleted');
    return total;
  }
}
