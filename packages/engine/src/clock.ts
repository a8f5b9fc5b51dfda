import type { Database } from './database/database.js';

/**
 * What "now" is for everything that orders or expires jobs: leases, deadlines, run_at, creation
 * times. Processes on different machines must agree on it, so it is the database's clock.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

/** This machine's clock: right for one process (SQLite), and for tests. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * The database server's clock, read through this machine's: the offset between the two is
 * measured against the database (halfway through the round trip) at start and every
 * `resyncMs`, so processes whose clocks drift or were set apart still agree to within a round
 * trip on when a lease expires, which job came first, and when a retry is due. On SQLite the
 * database is on this machine: the offset is 0.
 */
export class DatabaseClock implements Clock {
  private offset = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    private readonly localNow: () => number = Date.now,
  ) {}

  now(): number {
    return this.localNow() + this.offset;
  }

  /** The database's time minus this machine's, in milliseconds. */
  get offsetMs(): number {
    return this.offset;
  }

  /** Measures the offset again (one round trip); keeps the last one if the database does not answer. */
  async sync(): Promise<void> {
    if (this.db.kind === 'sqlite') return;
    const before = this.localNow();
    const [row] = await this.db.query<{ ms: number | string }>(
      'SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS ms',
    );
    const after = this.localNow();
    // Whole milliseconds: times are stored in BIGINT columns.
    if (row) this.offset = Math.round(Number(row.ms) - (before + after) / 2);
  }

  /** Syncs now and then every `resyncMs` (clocks drift). */
  async start(resyncMs = 60_000): Promise<void> {
    await this.sync().catch(() => undefined);
    this.timer = setInterval(() => void this.sync().catch(() => undefined), resyncMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
