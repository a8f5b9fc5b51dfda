import { Injectable } from '@nestjs/common';
import type { Job, JobAction, JobStatus, JobTransition } from '@jobtrail/domain';
import { Database, rowToJob, rowToTransition, type JobEventRow, type JobRow, type SqlExecutor } from '@jobtrail/engine';
import { DataSource, In, type SelectQueryBuilder } from 'typeorm';
import { whereAfter, type KeysetPosition } from '../common/cursor.js';
import { ConnectionEntity, JobEntity, JobEventEntity } from '../persistence/entities.js';

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
 * Reads of jobs and their events (transitions, log lines), every one scoped to a tenant, built
 * with TypeORM's query builder over the entities and run through the engine's Database. Writes go
 * through the engine's JobsStore, the one write path of a job.
 */
@Injectable()
export class JobsRepository {
  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
  ) {}

  private jobs(): SelectQueryBuilder<JobRow> {
    return this.dataSource.createQueryBuilder().select('*').from(JobEntity, 'j') as SelectQueryBuilder<JobRow>;
  }

  private events(): SelectQueryBuilder<JobEventRow> {
    return this.dataSource
      .createQueryBuilder()
      .select('*')
      .from(JobEventEntity, 'e') as SelectQueryBuilder<JobEventRow>;
  }

  /** True when the connection exists for this tenant (a job's parent). */
  async connectionExists(tenantId: string, connectionId: string, tx: SqlExecutor = this.db): Promise<boolean> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('1', 'found')
      .from(ConnectionEntity, 'c')
      .where('c.id = :connectionId AND c.tenant_id = :tenantId', { connectionId, tenantId });
    return (await tx.queryBuilt(qb.getQueryAndParameters())).length > 0;
  }

  async findJob(tenantId: string, jobId: string, tx: SqlExecutor = this.db): Promise<Job | null> {
    const qb = this.jobs().where('j.id = :jobId AND j.tenant_id = :tenantId', { jobId, tenantId });
    const [row] = await tx.queryBuilt<JobRow>(qb.getQueryAndParameters());
    return row ? rowToJob(row) : null;
  }

  /** When the connection's credentials were last replaced (null: never). */
  async findCredentialsUpdatedAt(connectionId: string, tx: SqlExecutor = this.db): Promise<Date | null> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('c.credentials_updated_at', 'at')
      .from(ConnectionEntity, 'c')
      .where('c.id = :connectionId', { connectionId });
    const [row] = await tx.queryBuilt<{ at: number | string | null }>(qb.getQueryAndParameters());
    return row?.at == null ? null : new Date(Number(row.at));
  }

  /** The pending or processing job of this action on the connection, if any. */
  async findActiveJob(connectionId: string, action: JobAction, tx: SqlExecutor = this.db): Promise<Job | null> {
    const qb = this.jobs().where({ connection_id: connectionId, action, status: In(['pending', 'processing']) });
    const [row] = await tx.queryBuilt<JobRow>(qb.getQueryAndParameters());
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
    const qb = this.dataSource
      .createQueryBuilder()
      .select('j.created_at', 'created_at')
      .from(JobEntity, 'j')
      .where('j.connection_id = :connectionId AND j.action = :action AND j.created_at > :since', {
        connectionId,
        action,
        since,
      })
      .orderBy('j.created_at', 'DESC')
      .limit(cap);
    const rows = await this.db.queryBuilt<{ created_at: number | string }>(qb.getQueryAndParameters());
    const last = rows[rows.length - 1];
    return { count: rows.length, oldest: last ? Number(last.created_at) : null };
  }

  /** One page of a connection's history, newest first, after `after` (keyset). */
  findHistoryPage(
    tenantId: string,
    connectionId: string,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
    // `tenant_id || ''` keeps the tenant check but stops SQLite (which plans without statistics)
    // from choosing the tenant-wide index over the connection's history index.
    const qb = this.jobs().where("j.connection_id = :connectionId AND j.tenant_id || '' = :tenantId", {
      connectionId,
      tenantId,
    });
    return this.findPage(qb, filter, after, limit);
  }

  /** One page of the tenant-wide search, newest first. */
  searchJobs(tenantId: string, filter: JobListFilter, after: KeysetPosition | null, limit: number): Promise<Job[]> {
    const qb = this.jobs().where('j.tenant_id = :tenantId', { tenantId });
    if (filter.connectionId) qb.andWhere('j.connection_id = :connectionId', { connectionId: filter.connectionId });
    if (filter.idPrefix) qb.andWhere('j.id LIKE :idPrefix', { idPrefix: `${filter.idPrefix}%` });
    return this.findPage(qb, filter, after, limit);
  }

  private async findPage(
    qb: SelectQueryBuilder<JobRow>,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
    if (filter.statuses?.length) qb.andWhere('j.status IN (:...statuses)', { statuses: filter.statuses });
    if (filter.action) qb.andWhere('j.action = :action', { action: filter.action });
    if (filter.from !== undefined) qb.andWhere('j.created_at >= :from', { from: filter.from });
    if (filter.to !== undefined) qb.andWhere('j.created_at <= :to', { to: filter.to });
    whereAfter(qb, 'j', after).orderBy('j.created_at', 'DESC').addOrderBy('j.id', 'DESC').limit(limit);
    const rows = await this.db.queryBuilt<JobRow>(qb.getQueryAndParameters());
    return rows.map(rowToJob);
  }

  /** The recorded status changes of a job, oldest first. */
  async findTransitions(jobId: string): Promise<JobTransition[]> {
    const qb = this.events().where("e.job_id = :jobId AND e.kind = 'transition'", { jobId }).orderBy('e.id');
    return (await this.db.queryBuilt<JobEventRow>(qb.getQueryAndParameters())).map(rowToTransition);
  }

  /** Log lines of a job after `afterSeq`, oldest first. */
  async findLogsPage(jobId: string, afterSeq: number, limit: number): Promise<JobLogLine[]> {
    const qb = this.events()
      .where("e.job_id = :jobId AND e.kind = 'log' AND e.id > :afterSeq", { jobId, afterSeq })
      .orderBy('e.id')
      .limit(limit);
    const rows = await this.db.queryBuilt<JobEventRow>(qb.getQueryAndParameters());
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
    const qb = this.dataSource.createQueryBuilder().select('MAX(e.id)', 'id').from(JobEventEntity, 'e');
    const rows = await this.db.queryBuilt<{ id: number | string | null }>(qb.getQueryAndParameters());
    return Number(rows[0]?.id ?? 0);
  }

  /** The tenant's job events after `afterId` (of one connection when given), oldest first. */
  async findEventsAfter(
    tenantId: string,
    connectionId: string | null,
    afterId: number,
    limit: number,
  ): Promise<Array<{ id: number; jobId: string; kind: JobEventRow['kind'] }>> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select(['e.id AS id', 'e.job_id AS job_id', 'e.kind AS kind'])
      .from(JobEventEntity, 'e')
      .where('e.tenant_id = :tenantId AND e.id > :afterId', { tenantId, afterId });
    if (connectionId) qb.andWhere('e.connection_id = :connectionId', { connectionId });
    qb.orderBy('e.id').limit(limit);
    const rows = await this.db.queryBuilt<Pick<JobEventRow, 'id' | 'job_id' | 'kind'>>(qb.getQueryAndParameters());
    return rows.map((r) => ({ id: Number(r.id), jobId: r.job_id, kind: r.kind }));
  }

  /** The tenant's jobs with these ids (any order). */
  async findJobsByIds(tenantId: string, ids: readonly string[]): Promise<Job[]> {
    const jobs: Job[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const qb = this.jobs().where({ tenant_id: tenantId, id: In(ids.slice(i, i + 500)) });
      jobs.push(...(await this.db.queryBuilt<JobRow>(qb.getQueryAndParameters())).map(rowToJob));
    }
    return jobs;
  }
}
