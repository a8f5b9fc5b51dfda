import { EventEmitter } from 'node:events';
import type { JobSummaryWire, WebhookDeliveryEventWire } from '@jobtrail/domain';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../database/database.js';
import { CHANNEL, changePayloads, notify } from './notifications.js';

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

/** An attempt of a webhook delivery was recorded (the dashboard refreshes what shows it). */
export interface WebhookDeliveryChange {
  readonly type: 'webhook.delivery';
  readonly tenantId: string;
  /** The connection of the job whose change caused the event (null for `webhook.test`). */
  readonly connectionId: string | null;
  readonly delivery: WebhookDeliveryEventWire;
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
   * Announces committed changes to the subscribers of this process, on SQLite (one process). On
   * PostgreSQL there is nothing left to do: `JobsStore.commit` notified every process, this one
   * included, inside the transaction that made the changes. PostgreSQL delivers those
   * notifications at commit, in commit order, and never for a transaction that rolled back. So a
   * process that dies, or a database call that fails, right after the commit cannot lose them.
   */
  publish(changes: readonly JobChange[]): Promise<void> {
    if (this.db.kind === 'sqlite') for (const c of changes) this.emitter.emit('change', c);
    return Promise.resolve();
  }

  /**
   * Announces recorded webhook attempts to every process. They change no job, so no commit carries
   * them: on PostgreSQL they are notified on their own, after the attempts were stored. A lost one
   * only delays a live view until its next fetch.
   */
  async publishDeliveries(deliveries: readonly WebhookDeliveryChange[]): Promise<void> {
    if (deliveries.length === 0) return;
    if (this.db.kind === 'sqlite') {
      for (const d of deliveries) this.emitter.emit('delivery', d);
      return;
    }
    await notify(this.db, changePayloads(deliveries));
  }

  /** Calls `fn` for every recorded webhook attempt (of every tenant); returns the unsubscribe function. */
  onDelivery(fn: (delivery: WebhookDeliveryChange) => void): () => void {
    this.emitter.on('delivery', fn);
    return () => this.emitter.off('delivery', fn);
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
        for (const c of JSON.parse(msg.payload) as Array<JobChange | ConnectionDeleted | WebhookDeliveryChange>) {
          if (c.type === 'connection.deleted') this.emitter.emit('connection-deleted', c);
          else if (c.type === 'webhook.delivery') this.emitter.emit('delivery', c);
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
    await notify(this.db, [JSON.stringify([deleted])]);
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
