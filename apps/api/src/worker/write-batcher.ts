import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/tokens.js';
import { Database } from '../database/database.js';
import { JobEventsBus, type JobChange } from '../events/job-events.bus.js';
import { WorkerRepository, type JobWrite } from './worker.repository.js';

interface Queued {
  readonly write: JobWrite;
  readonly resolve: (change: JobChange | null) => void;
  readonly reject: (err: unknown) => void;
}

/** Most writes committed in one transaction. */
const MAX_BATCH = 500;

/**
 * Group commit for the workers' fenced writes: writes submitted in the same tick (many jobs
 * finishing together) share one transaction and one multi-row insert of their events, and their
 * live events go out in one notification. Each caller still learns whether its own write passed
 * the fence.
 */
@Injectable()
export class WriteBatcher {
  private queue: Queued[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly repo: WorkerRepository,
    private readonly bus: JobEventsBus,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Queues a write; resolves with its live event once committed, or null when the fence refused it. */
  submit(write: JobWrite): Promise<JobChange | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every job that finishes in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.flushing) return;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.flushing = this.flush(batch);
      await this.flushing;
    }
    this.flushing = null;
  }

  private async flush(batch: Queued[]): Promise<void> {
    let changes: Array<JobChange | null>;
    try {
      changes = await this.db.transaction((tx) =>
        this.repo.writeFenced(
          tx,
          batch.map((q) => q.write),
        ),
      );
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => q.resolve(changes[i] ?? null));
    // Not awaited: the bus sends in order, and the next batch need not wait for it.
    this.bus
      .publish(changes.filter((c): c is JobChange => c !== null))
      .catch((err: unknown) =>
        this.log.warn({ err: { message: (err as Error).message } }, 'could not publish job changes'),
      );
  }
}
