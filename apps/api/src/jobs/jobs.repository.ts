import { Injectable } from '@nestjs/common';
import type { Job, JobAction, JobStatus, JobTransition } from '@jobtrail/domain';
import {
  Database,
  placeholders,
  rowToJob,
  rowToTransition,
  type JobEventRow,
  type JobRow,
  type SqlExecutor,
} from '@jobtrail/engine';
import { keysetAfter, type KeysetPosition } from '../common/cursor.js';

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

/** A stored log line. */
export interface JobLogLine {
  readonly seq: number;
  readonly at: Date;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly step: string | null;
  readonly message: string;
}

/**
 * Reads of jobs and their events (transitions, log lines), every one scoped to a tenant. Writes go
 * through the engine's JobsStore, the one write path of a job.
 */
@Injectable()
export class JobsRepository {
  constructor(private readonly db: Database) {}

  /** True when the connection exists for this tenant (a job's parent). */
  async connectionExists(tenantId: string, connectionId: string, tx: SqlExecutor = this.db): Promise<boolean> {
    const rows = await tx.query('SELECT 1 AS found FROM connections WHERE id = $1 AND tenant_id = $2', [
      connectionId,
      tenantId,
    ]);
    return rows.length > 0;
  }

  async findJob(tenantId: string, jobId: string, tx: SqlExecutor = this.db): Promise<Job | null> {
    const row = (await tx.query<JobRow>('SELECT * FROM jobs WHERE id = $1 AND tenant_id = $2', [jobId, tenantId]))[0];
    return row ? rowToJob(row) : null;
  }

  /** The pending or processing job of this action on the connection, if any. */
  async findActiveJob(connectionId: string, action: JobAction, tx: SqlExecutor = this.db): Promise<Job | null> {
    const row = (
      await tx.query<JobRow>(
        `SELECT * FROM jobs WHERE connection_id = $1 AND action = $2 AND status IN ('pending', 'processing')`,
        [connectionId, action],
      )
    )[0];
    return row ? rowToJob(row) : null;
  }

  /**
   * How many jobs of this action the connection got since `since` (counting at most `cap`), and
   * the creation time of the oldest of the `cap` most recent ones.
   */
  async countRecentJobs(
    connectionId: string,
    action: JobAction,
    since: number,
    cap: number,
  ): Promise<{ count: number; oldest: number | null }> {
    const rows = await this.db.query<{ created_at: number | string }>(
      'SELECT created_at FROM jobs WHERE connection_id = $1 AND action = $2 AND created_at > $3 ORDER BY created_at DESC LIMIT $4',
      [connectionId, action, since, cap],
    );
    const last = rows[rows.length - 1];
    return { count: rows.length, oldest: last ? Number(last.created_at) : null };
  }

  /** One page of a connection's history, newest first, after `after` (keyset). */
  async findHistoryPage(
    tenantId: string,
    connectionId: string,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
    // `tenant_id || ''` keeps the tenant check but stops SQLite (which plans without statistics)
    // from choosing the tenant-wide index over the connection's history index.
    return this.findPage(
      ['connection_id = $1', "tenant_id || '' = $2"],
      [connectionId, tenantId],
      filter,
      after,
      limit,
    );
  }

  /** One page of the tenant-wide search, newest first. */
  async searchJobs(
    tenantId: string,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
    const where = ['tenant_id = $1'];
    const params: unknown[] = [tenantId];
    if (filter.connectionId) {
      params.push(filter.connectionId);
      where.push(`connection_id = $${params.length}`);
    }
    if (filter.idPrefix) {
      params.push(`${filter.idPrefix}%`);
      where.push(`id LIKE $${params.length}`);
    }
    return this.findPage(where, params, filter, after, limit);
  }

  private async findPage(
    where: string[],
    params: unknown[],
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
    const w = [...where];
    const p = [...params];
    const param = (value: unknown) => {
      p.push(value);
      return `$${p.length}`;
    };
    if (filter.statuses?.length) w.push(`status IN (${filter.statuses.map(param).join(', ')})`);
    if (filter.action) w.push(`action = ${param(filter.action)}`);
    if (filter.from !== undefined) w.push(`created_at >= ${param(filter.from)}`);
    if (filter.to !== undefined) w.push(`created_at <= ${param(filter.to)}`);
    if (after) w.push(keysetAfter('', after, p));
    const rows = await this.db.query<JobRow>(
      `SELECT * FROM jobs WHERE ${w.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${param(limit)}`,
      p,
    );
    return rows.map(rowToJob);
  }

  /** The recorded status changes of a job, oldest first. */
  async findTransitions(jobId: string): Promise<JobTransition[]> {
    const rows = await this.db.query<JobEventRow>(
      `SELECT * FROM job_events WHERE job_id = $1 AND kind = 'transition' ORDER BY id`,
      [jobId],
    );
    return rows.map(rowToTransition);
  }

  /** Log lines of a job after `afterSeq`, oldest first. */
  async findLogsPage(jobId: string, afterSeq: number, limit: number): Promise<JobLogLine[]> {
    const rows = await this.db.query<JobEventRow>(
      `SELECT * FROM job_events WHERE job_id = $1 AND kind = 'log' AND id > $2 ORDER BY id LIMIT $3`,
      [jobId, afterSeq, limit],
    );
    return rows.map((r) => ({
      seq: Number(r.id),
      at: new Date(Number(r.at)),
      level: (r.level ?? 'info') as JobLogLine['level'],
      step: r.step,
      message: r.message ?? '',
    }));
  }

  /** The id of the newest recorded job event (0 when there is none). */
  async findNewestEventId(): Promise<number> {
    const rows = await this.db.query<{ id: number | string | null }>('SELECT MAX(id) AS id FROM job_events');
    return Number(rows[0]?.id ?? 0);
  }

  /** The tenant's job events after `afterId` (of one connection when given), oldest first. */
  async findEventsAfter(
    tenantId: string,
    connectionId: string | null,
    afterId: number,
    limit: number,
  ): Promise<Array<{ id: number; jobId: string; kind: JobEventRow['kind'] }>> {
    const params: unknown[] = [tenantId, afterId, limit];
    let where = 'tenant_id = $1 AND id > $2';
    if (connectionId) {
      params.push(connectionId);
      where += ` AND connection_id = $${params.length}`;
    }
    const rows = await this.db.query<Pick<JobEventRow, 'id' | 'job_id' | 'kind'>>(
      `SELECT id, job_id, kind FROM job_events WHERE ${where} ORDER BY id LIMIT $3`,
      params,
    );
    return rows.map((r) => ({ id: Number(r.id), jobId: r.job_id, kind: r.kind }));
  }

  /** The tenant's jobs with these ids (any order). */
  async findJobsByIds(tenantId: string, ids: readonly string[]): Promise<Job[]> {
    const jobs: Job[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = await this.db.query<JobRow>(
        `SELECT * FROM jobs WHERE tenant_id = $1 AND id IN (${placeholders(chunk.length, 2)})`,
        [tenantId, ...chunk],
      );
      jobs.push(...rows.map(rowToJob));
    }
    return jobs;
  }
}
