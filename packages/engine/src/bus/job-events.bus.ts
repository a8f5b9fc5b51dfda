import { EventEmitter } from 'node:events';
import type { JobSummaryWire } from '@jobtrail/domain';
import pg from 'pg';
import type { Logger } from 'pino';
import { placeholders, type Database } from '../database/database.js';

/** The kinds of live events. */
export type JobChangeType = 'job.created' | 'job.updated';

/** One change of a job, as pushed to live clients and to workers. */
export interface JobChange {
  /** The id of the job_events row recorded with the change (the SSE event id). */
  readonly id: number;
  readonly type: JobChangeType;
  readonly tenantId: string;
  readonly connectionId: string;
  readonly job: JobSummaryWire;
  /** Set when the change parked an answered job: a worker should resume it. */
  readonly resumable?: boolean;
}

/** A connection deleted with its jobs. */
export interface ConnectionDeleted {
  readonly type: 'connection.deleted';
  readonly tenantId: string;
  readonly connectionId: string;
}

const CHANNEL = 'jobtrail_events';
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD = 7_900;
const NOTIFIES_PER_QUERY = 50;

/** Changes packed into JSON arrays that each fit in one notification. */
function toPayloads(changes: readonly JobChange[]): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2;
  for (const c of changes) {
    let json = JSON.stringify(c);
    // Too large for one notification: the error detail is dropped, clients re-read the job.
    if (json.length + 2 > MAX_PAYLOAD)
      json = JSON.stringify({ ...c, job: { ...c.job, error: c.job.error ? { ...c.job.error, detail: '' } : null } });
    if (size + json.length + 1 > MAX_PAYLOAD && batch.length > 0) {
      payloads.push(`[${batch.join(',')}]`);
      batch = [];
      size = 2;
    }
    batch.push(json);
    size += json.length + 1;
  }
  if (batch.length > 0) payloads.push(`[${batch.join(',')}]`);
  return payloads;
}

/**
 * Job changes across processes. SQLite runs one process, so an in-process emitter is enough; on
 * PostgreSQL every process LISTENs and changes travel by NOTIFY, so an event raised by a worker in
 * one process reaches the SSE clients and idle workers of every other process.
 */
export class JobEventsBus {
  private readonly emitter = new EventEmitter();
  private listener: pg.Client | null = null;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly outbox: Array<{
    changes: readonly JobChange[];
    resolve: () => void;
    reject: (err: unknown) => void;
  }> = [];
  private sending = false;

  /** `databaseUrl`: the PostgreSQL server to LISTEN on (null on SQLite). */
  constructor(
    private readonly db: Database,
    private readonly databaseUrl: string | null,
    private readonly log: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Starts listening for other processes' changes (PostgreSQL). */
  async start(): Promise<void> {
    if (this.db.kind === 'postgres') await this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => undefined);
    this.emitter.removeAllListeners();
  }

  /** Calls `fn` for every job change (of every tenant); returns the unsubscribe function. */
  subscribe(fn: (change: JobChange) => void): () => void {
    this.emitter.on('change', fn);
    return () => this.emitter.off('change', fn);
  }

  /**
   * Announces committed changes to every process. On PostgreSQL the changes queue in an outbox
   * sent in order by one sender, many notifications a round trip, so callers need not wait.
   */
  publish(changes: readonly JobChange[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    if (this.db.kind === 'sqlite') {
      for (const c of changes) this.emitter.emit('change', c);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.outbox.push({ changes, resolve, reject });
      void this.sendOutbox();
    });
  }

  private async sendOutbox(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.outbox.length > 0) {
        const items = this.outbox.splice(0);
        try {
          const payloads = toPayloads(items.flatMap((i) => i.changes));
          for (let i = 0; i < payloads.length; i += NOTIFIES_PER_QUERY) {
            const slice = payloads.slice(i, i + NOTIFIES_PER_QUERY);
            await this.db.query(
              `SELECT ${slice.map((_, i) => `pg_notify(${placeholders(2, 2 * i + 1)})`).join(', ')}`,
              slice.flatMap((p) => [CHANNEL, p]),
            );
          }
          for (const item of items) item.resolve();
        } catch (err) {
          for (const item of items) item.reject(err);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async listen(): Promise<void> {
    if (this.databaseUrl === null || this.closed) return;
    const client = new pg.Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 5_000 });
    const retry = () => {
      if (this.closed || this.reconnectTimer) return;
      this.listener = null;
      client.end().catch(() => undefined);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.listen().catch(() => undefined);
      }, 1_000);
    };
    client.on('error', (err) => {
      this.log.warn({ err: { message: err.message } }, 'event listener lost its connection; reconnecting');
      retry();
    });
    client.on('end', retry);
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        for (const c of JSON.parse(msg.payload) as Array<JobChange | ConnectionDeleted>) {
          if (c.type === 'connection.deleted') this.emitter.emit('connection-deleted', c);
          else this.emitter.emit('change', c);
        }
      } catch {
        this.log.warn('unreadable job event notification');
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
      // Changes may have been missed while disconnected: wake workers so they look for work.
      this.emitter.emit('reconnected');
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'event listener could not connect; retrying');
      retry();
    }
  }

  /**
   * Announces, to every process, that a connection and its jobs were deleted: clients following
   * its jobs learn that nothing more will come. Not stored (its events went with it), so a resume
   * does not replay it; the history then answers 404.
   */
  async publishConnectionDeleted(deleted: ConnectionDeleted): Promise<void> {
    if (this.db.kind === 'sqlite') {
      this.emitter.emit('connection-deleted', deleted);
      return;
    }
    await this.db.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify([deleted])]);
  }

  /** Calls `fn` for every deleted connection (of every tenant); returns the unsubscribe function. */
  onConnectionDeleted(fn: (deleted: ConnectionDeleted) => void): () => void {
    this.emitter.on('connection-deleted', fn);
    return () => this.emitter.off('connection-deleted', fn);
  }

  /** Calls `fn` after the listener reconnected (changes may have been missed). */
  onReconnect(fn: () => void): () => void {
    this.emitter.on('reconnected', fn);
    return () => this.emitter.off('reconnected', fn);
  }
}
