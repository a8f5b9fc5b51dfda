import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { TERMINAL_STATUSES, retentionDays } from '@jobtrail/domain';
import type { Logger } from 'pino';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { Database } from '../database/database.js';

/** Jobs deleted per statement: short transactions that never hold the queue up for long. */
const BATCH = 1_000;

/** Deletes finished jobs (and their events) once their retention period is over. */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    // Workers do the housekeeping; API-only processes stay lean.
    if (this.config.role === 'api') return;
    this.timer = setInterval(
      () =>
        void this.purgeExpired().catch((err: unknown) =>
          this.log.warn({ err: { message: (err as Error).message } }, 'retention cleanup failed'),
        ),
      this.config.retention.sweepMs,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Deletes every expired job, in batches; returns how many. */
  async purgeExpired(now = Date.now()): Promise<number> {
    let total = 0;
    for (const status of TERMINAL_STATUSES) {
      const days = retentionDays(status, this.config.retention);
      if (days === null) continue;
      const cutoff = now - days * 86_400_000;
      for (;;) {
        const deleted = await this.db.transaction(async (tx) => {
          const ids = (
            await tx.query<{ id: string }>('SELECT id FROM jobs WHERE status = ? AND finished_at < ? LIMIT ?', [
              status,
              cutoff,
              BATCH,
            ])
          ).map((r) => r.id);
          if (ids.length === 0) return 0;
          const list = ids.map(() => '?').join(', ');
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
