import { Injectable } from '@nestjs/common';
import type { Job, JobAction, JobStatus, JobTransition } from '@jobtrail/domain';
import type { KeysetPosition } from '../common/cursor.js';
import { Database, type SqlExecutor } from '../database/database.js';
import type { JobEventRow, JobRow } from '../database/rows.js';
import { JOB_COLUMNS, jobToValues, rowToJob, rowToTransition } from './job.mapper.js';

/** Filters of the history and search lists. */
export interface JobListFilter {
  readonly statuses?: readonly JobStatus[];
  readonly action?: JobAction;
  readonly from?: number;
  readonly to?: number;
  readonly connectionId?: string;
  /** Lower-case start of a job id. */
  readonly idPrefix?: string;
}

/** An event to record with a job change. */
export type NewJobEvent =
  | { readonly kind: 'created'; readonly at: Date; readonly actor: string; readonly reason: string }
  | { readonly kind: 'transition'; readonly transition: JobTransition }
  | { readonly kind: 'log'; readonly at: Date; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly step: string | null; readonly message: string };

/** A stored log line. */
export interface JobLogLine {
  readonly seq: number;
  readonly at: Date;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly step: string | null;
  readonly message: string;
}

const INSERT_JOB = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`;
// A cancel request, once stored, is never cleared by a writer that read the job before it came.
const UPDATE_JOB = `UPDATE jobs SET ${JOB_COLUMNS.filter((c) => c !== 'id' && c !== 'tenant_id')
  .map((c) => (c === 'cancel_requested_at' ? `${c} = COALESCE(${c}, ?)` : `${c} = ?`))
  .join(', ')} WHERE id = ? AND tenant_id = ? AND status = ? AND attempt = ?`;

/** Jobs and their events (transitions, log lines). Every read is scoped to a tenant. */
@Injectable()
export class JobsRepository {
  constructor(private readonly db: Database) {}

  async insertJob(tx: SqlExecutor, tenantId: string, job: Job): Promise<void> {
    await tx.execute(INSERT_JOB, jobToValues(job, tenantId));
  }

  /**
   * Writes the new state of a job, fenced: only when the stored job still has the status and
   * attempt it was read with. Returns false when someone changed it in between.
   */
  async updateJobFenced(tx: SqlExecutor, tenantId: string, next: Job, expected: { status: JobStatus; attempt: number }): Promise<boolean> {
    const values = jobToValues(next, tenantId).slice(2);
    return (await tx.execute(UPDATE_JOB, [...values, next.id, tenantId, expected.status, expected.attempt])) === 1;
  }

  /** Records events in one multi-row insert; returns the id of the last one (0 when none). */
  async insertEvents(tx: SqlExecutor, job: { id: string; connectionId: string }, tenantId: string, events: readonly NewJobEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const values: unknown[] = [];
    for (const e of events) {
      switch (e.kind) {
        case 'created':
          values.push(job.id, tenantId, job.connectionId, 'created', e.at.getTime(), null, 'pending', e.reason, e.actor, 0, null, null, null);
          break;
        case 'transition': {
          const t = e.transition;
          values.push(job.id, tenantId, job.connectionId, 'transition', t.at.getTime(), t.from, t.to, t.reason, t.actor, t.attempt, null, null, null);
          break;
        }
        case 'log':
          values.push(job.id, tenantId, job.connectionId, 'log', e.at.getTime(), null, null, null, null, null, e.level, e.step, e.message);
          break;
      }
    }
    const row = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const ids = await tx.query<{ id: number | string }>(
      `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message)
       VALUES ${events.map(() => row).join(', ')} RETURNING id`,
      values,
    );
    return ids.reduce((max, r) => Math.max(max, Number(r.id)), 0);
  }

  async findJob(tenantId: string, jobId: string, tx: SqlExecutor = this.db): Promise<Job | null> {
    const row = (await tx.query<JobRow>('SELECT * FROM jobs WHERE id = ? AND tenant_id = ?', [jobId, tenantId]))[0];
    return row ? rowToJob(row) : null;
  }

  /** The pending or processing job of this action on the connection, if any. */
  async findActiveJob(connectionId: string, action: JobAction, tx: SqlExecutor = this.db): Promise<Job | null> {
    const row = (
      await tx.query<JobRow>(`SELECT * FROM jobs WHERE connection_id = ? AND action = ? AND status IN ('pending', 'processing')`, [connectionId, action])
    )[0];
    return row ? rowToJob(row) : null;
  }

  /** One page of a connection's history, newest first, after `after` (keyset). */
  async findHistoryPage(tenantId: string, connectionId: string, filter: JobListFilter, after: KeysetPosition | null, limit: number): Promise<Job[]> {
    return this.findPage(['connection_id = ?', 'tenant_id = ?'], [connectionId, tenantId], filter, after, limit);
  }

  /** One page of the tenant-wide search, newest first. */
  async searchJobs(tenantId: string, filter: JobListFilter, after: KeysetPosition | null, limit: number): Promise<Job[]> {
    const where = ['tenant_id = ?'];
    const params: unknown[] = [tenantId];
    if (filter.connectionId) {
      where.push('connection_id = ?');
      params.push(filter.connectionId);
    }
    if (filter.idPrefix) {
      where.push('id LIKE ?');
      params.push(`${filter.idPrefix}%`);
    }
    return this.findPage(where, params, filter, after, limit);
  }

  private async findPage(where: string[], params: unknown[], filter: JobListFilter, after: KeysetPosition | null, limit: number): Promise<Job[]> {
    const w = [...where];
    const p = [...params];
    if (filter.statuses?.length) {
      w.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
      p.push(...filter.statuses);
    }
    if (filter.action) {
      w.push('action = ?');
      p.push(filter.action);
    }
    if (filter.from !== undefined) {
      w.push('created_at >= ?');
      p.push(filter.from);
    }
    if (filter.to !== undefined) {
      w.push('created_at <= ?');
      p.push(filter.to);
    }
    if (after) {
      // Row-value comparison would be shorter, but this form uses the index on both databases.
      w.push('(created_at < ? OR (created_at = ? AND id < ?))');
      p.push(after.createdAt, after.createdAt, after.id);
    }
    const rows = await this.db.query<JobRow>(`SELECT * FROM jobs WHERE ${w.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`, [...p, limit]);
    return rows.map(rowToJob);
  }

  /** The recorded status changes of a job, oldest first. */
  async findTransitions(jobId: string): Promise<JobTransition[]> {
    const rows = await this.db.query<JobEventRow>(`SELECT * FROM job_events WHERE job_id = ? AND kind = 'transition' ORDER BY id`, [jobId]);
    return rows.map(rowToTransition);
  }

  /** Log lines of a job after `afterSeq`, oldest first. */
  async findLogsPage(jobId: string, afterSeq: number, limit: number): Promise<JobLogLine[]> {
    const rows = await this.db.query<JobEventRow>(`SELECT * FROM job_events WHERE job_id = ? AND kind = 'log' AND id > ? ORDER BY id LIMIT ?`, [jobId, afterSeq, limit]);
    return rows.map((r) => ({ seq: Number(r.id), at: new Date(Number(r.at)), level: (r.level ?? 'info') as JobLogLine['level'], step: r.step, message: r.message ?? '' }));
  }
}
