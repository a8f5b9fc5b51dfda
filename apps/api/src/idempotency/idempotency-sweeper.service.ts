import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { IdempotencyRepository } from './idempotency.repository.js';

/**
 * Deletes Idempotency-Key records once their 24 h replay window is over (they were kept forever),
 * every `idempotency.sweepMs`, in batches on the created_at index so no statement holds the table
 * for long. Part of the ApiModule: runs wherever requests are answered (roles `all` and `api`): several processes sweeping
 * at once only delete the same rows.
 */
@Injectable()
export class IdempotencySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly repo: IdempotencyRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.idempotency.sweepMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sweep; returns how many records it deleted (0 when one is already running or it failed). */
  async sweep(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const n = await this.repo.purgeExpired(now);
      if (n > 0) this.log.debug({ deleted: n }, 'expired idempotency keys deleted');
      return n;
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'idempotency key cleanup failed');
      return 0;
    } finally {
      this.running = false;
    }
  }
}
