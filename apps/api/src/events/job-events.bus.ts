import { EventEmitter } from 'node:events';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { JobSummaryWire } from '@jobtrail/domain';
import pg from 'pg';
import type { Logger } from 'pino';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { Database } from '../database/database.js';

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
}

const CHANNEL = 'jobtrail_events';
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD = 7_900;

/**
 * Job changes across processes. SQLite runs one process, so an in-process emitter is enough; on
 * PostgreSQL every process LISTENs and changes travel by NOTIFY, so an event raised by a worker in
 * one process reaches the SSE clients and idle workers of every other process.
 */
@Injectable()
export class JobEventsBus implements OnModuleInit, OnApplicationShutdown {
  private readonly emitter = new EventEmitter();
  private listener: pg.Client | null = null;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  async onModuleInit(): Promise<void> {
    if (this.db.kind === 'postgres') await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
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

  /** Announces committed changes to every process. */
  async publish(changes: readonly JobChange[]): Promise<void> {
    if (changes.length === 0) return;
    if (this.db.kind === 'sqlite') {
      for (const c of changes) this.emitter.emit('change', c);
      return;
    }
    // One NOTIFY per batch of changes that fits the payload limit.
    let batch: JobChange[] = [];
    let size = 2;
    const flush = async () => {
      if (batch.length === 0) return;
      await this.db.query('SELECT pg_notify(?, ?)', [CHANNEL, JSON.stringify(batch)]);
      batch = [];
      size = 2;
    };
    for (const c of changes) {
      const len = JSON.stringify(c).length + 1;
      if (size + len > MAX_PAYLOAD) await flush();
      if (len + 2 > MAX_PAYLOAD) {
        // Too large for one notification: the error detail is dropped, clients re-read the job.
        batch.push({ ...c, job: { ...c.job, error: c.job.error ? { ...c.job.error, detail: '' } : null } });
      } else batch.push(c);
      size += len;
    }
    await flush();
  }

  private async listen(): Promise<void> {
    if (this.config.database.kind !== 'postgres' || this.closed) return;
    const client = new pg.Client({ connectionString: this.config.database.url, connectionTimeoutMillis: 5_000 });
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
        for (const c of JSON.parse(msg.payload) as JobChange[]) this.emitter.emit('change', c);
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

  /** Calls `fn` after the listener reconnected (changes may have been missed). */
  onReconnect(fn: () => void): () => void {
    this.emitter.on('reconnected', fn);
    return () => this.emitter.off('reconnected', fn);
  }
}
