import { TERMINAL_STATUSES, retentionDays } from '@jobtrail/domain';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { RetentionConfig } from '../config.js';
import { placeholders, type Database } from '../database/database.js';

/** Jobs deleted per statement: short transactions that never hold the queue up for long. */
const BATCH = 1_000;

/** Deletes finished jobs (and their events) once their retention period is over. */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    private readonly config: RetentionConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

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
          await tx.execute(`DELETE FROM job_events WHERE job_id IN (${list})`, ids);
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
