import type { Logger } from 'pino';
import type { JobEventsBus } from '../bus/job-events.bus.js';
import type { Database } from '../database/database.js';
import type { CommittedWrite, JobWrite, JobsStore } from '../store/jobs.store.js';

interface Queued {
  readonly write: JobWrite;
  readonly resolve: (committed: CommittedWrite | null) => void;
  readonly reject: (err: unknown) => void;
}

/** Most writes committed in one transaction. */
const MAX_BATCH = 500;

/**
 * Group commit for the workers' job writes: writes submitted in the same tick (many jobs finishing
 * together) share one transaction of the store's `commit`, and their live events go out in one
 * notification. Each caller still learns whether its own write passed the fence.
 */
export class WriteBatcher {
  private queue: Queued[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly store: JobsStore,
    private readonly bus: JobEventsBus,
    private readonly log: Logger,
  ) {}

  /** Queues a write; resolves with the stored job once committed, or null when the fence refused it. */
  submit(write: JobWrite): Promise<CommittedWrite | null> {
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
    let committed: Array<CommittedWrite | null>;
    try {
      committed = await this.db.transaction((tx) =>
        this.store.commit(
          tx,
          batch.map((q) => q.write),
          { last: true },
        ),
      );
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => q.resolve(committed[i] ?? null));
    // Not awaited: the bus sends in order, and the next batch need not wait for it.
    this.bus
      .publish(committed.flatMap((c) => (c ? [c.change] : [])))
      .catch((err: unknown) =>
        this.log.warn({ err: { message: (err as Error).message } }, 'could not publish job changes'),
      );
  }
}
