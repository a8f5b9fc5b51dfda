import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/tokens.js';
import { ApiKeysRepository, LAST_USED_RESOLUTION_MS } from './api-keys.repository.js';

/**
 * Keeps `last_used_at` of API keys to the minute without a write per request: this process writes
 * a key's time at most once per {@link LAST_USED_RESOLUTION_MS}, and the conditional UPDATE skips
 * keys another process noted within that time. The write is not awaited by the request.
 */
@Injectable()
export class KeyUsageRecorder implements OnModuleDestroy {
  private readonly noted = new Map<string, number>();
  private readonly writing = new Set<Promise<unknown>>();

  constructor(
    private readonly keys: ApiKeysRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  noteUse(keyId: string, now = Date.now()): void {
    const last = this.noted.get(keyId);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    if (this.noted.size > 10_000) {
      for (const [id, at] of this.noted) if (now - at >= LAST_USED_RESOLUTION_MS) this.noted.delete(id);
    }
    this.noted.set(keyId, now);
    const write = this.keys
      .touchLastUsed(keyId, now)
      .catch((err: unknown) => {
        // Not worth failing or slowing a request for: the next request after a minute tries again.
        this.noted.delete(keyId);
        this.log.debug({ err: { message: (err as Error).message } }, 'could not note the last use of a key');
      })
      .finally(() => this.writing.delete(write));
    this.writing.add(write);
  }

  /** Lets the last writes finish before the database closes. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.writing);
  }
}
