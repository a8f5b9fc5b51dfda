import { Injectable } from '@nestjs/common';
import {
  JOB_STATUSES,
  isTerminal,
  type Job,
  type JobSummary,
  type JobAction,
  type JobStatus,
  type JobTransition,
} from '@jobtrail/domain';
import {
  Database,
  rowToJob,
  rowToJobSummary,
  rowToLogLines,
  rowToTransition,
  type JobEventRow,
  type JobRow,
  type SqlExecutor,
  type StoredLogLine,
} from '@jobtrail/engine';
import { DataSource, In, type SelectQueryBuilder } from 'typeorm';
import { whereAfter, type KeysetPosition } from '../common/cursor.js';
import { BuiltQueries, columnsOf, type BuilderOutput, type QueryParams } from '../persistence/built-queries.js';
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
  readonly errorCode?: string;
  readonly institutionId?: string;
}

/** Which finished jobs a bulk retry is about. */
export interface RetryFilter {
  readonly status: 'failed' | 'cancelled';
  readonly action?: JobAction;
  readonly errorCode?: string;
  readonly connectionId?: string;
  readonly institutionId?: string;
  readonly from?: number;
  readonly to?: number;
}

/** Counts of the jobs created in a time range. */
export interface JobStats {
  readonly byStatus: ReadonlyArray<{ status: string; count: number }>;
  readonly byErrorCode: ReadonlyArray<{ code: string; count: number }>;
  readonly perHour: ReadonlyArray<{ hour: number; status: string; count: number }>;
}

/**
 * No job of the same action was created on the job's connection after it (ids are UUIDv7, so
 * `(created_at, id)` is creation order); walks the connection's history index.
 */
const NO_NEWER_JOB = `NOT EXISTS (SELECT 1 FROM jobs n WHERE n.connection_id = j.connection_id AND n.action = j.action
  AND (n.created_at > j.created_at OR (n.created_at = j.created_at AND n.id > j.id)))`;

/**
 * "Pending or processing", in the very words of the partial index of active jobs
 * (`ux_jobs_active_action`): SQLite uses a partial index only when the query states its predicate
 * with the same constants (a bound status list could be anything), and otherwise walked a busy
 * connection's whole history on every `POST refresh` (17 requests a second on the history bench's
 * 96,000-job connection).
 */
const ACTIVE_STATUS = `j.status IN (${JOB_STATUSES.filter((s) => !isTerminal(s))
  .map((s) => `'${s}'`)
  .join(', ')})`;

/**
 * Where a log page starts: after line `index` of event row `eventId` (global ids, never shown to
 * tenants: see SealedPositions).
 */
export interface LogPosition {
  readonly eventId: number;
  readonly index: number;
}

/**
 * Reads of jobs and their events (transitions, log lines), every one scoped to a tenant, built
 * with TypeORM's query builder over the entities and run through the engine's Database. Writes go
 * through the engine's JobsStore, the one write path of a job.
 */
@Injectable()
export class JobsRepository {
  private readonly built = new BuiltQueries();

  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
  ) {}

  private jobs(): SelectQueryBuilder<JobRow> {
    return this.dataSource
      .createQueryBuilder()
      .select(columnsOf(this.dataSource, JobEntity, 'j'))
      .from(JobEntity, 'j') as SelectQueryBuilder<JobRow>;
  }

  private events(): SelectQueryBuilder<JobEventRow> {
    return this.dataSource
      .createQueryBuilder()
      .select('*')
      .from(JobEventEntity, 'e') as SelectQueryBuilder<JobEventRow>;
  }

  /** True when the connection exists for this tenant (a job's parent). */
  async connectionExists(tenantId: string, connectionId: string, tx: SqlExecutor = this.db): Promise<boolean> {
    const built = this.built.bind('connection-exists', { connectionId, tenantId }, (p) =>
      this.dataSource
        .createQueryBuilder()
        .select('1', 'found')
        .from(ConnectionEntity, 'c')
        .where('c.id = :connectionId AND c.tenant_id = :tenantId', p)
        .getQueryAndParameters(),
    );
    return (await tx.queryBuilt(built)).length > 0;
  }

  async findJob(tenantId: string, jobId: string, tx: SqlExecutor = this.db): Promise<Job | null> {
    const built = this.built.bind('job', { jobId, tenantId }, (p) =>
      this.jobs().where('j.id = :jobId AND j.tenant_id = :tenantId', p).getQueryAndParameters(),
    );
    const [row] = await tx.queryBuilt<JobRow>(built);
    return row ? rowToJob(row) : null;
  }

  /** The job, locked until the transaction ends (PostgreSQL; SQLite has one writer). */
  async lockJob(tx: SqlExecutor, tenantId: string, jobId: string): Promise<Job | null> {
    const qb = this.jobs().where('j.id = :jobId AND j.tenant_id = :tenantId', { jobId, tenantId });
    if (this.db.kind === 'postgres') qb.setLock('pessimistic_write');
    const [row] = await tx.queryBuilt<JobRow>(qb.getQueryAndParameters());
    return row ? rowToJob(row) : null;
  }

  /** Where a connection logs in: its institution and login (never its credentials). */
  async findConnectionLogin(connectionId: string): Promise<{ institutionId: string; loginId: string } | null> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('c.institution_id', 'institution_id')
      .addSelect('c.login_id', 'login_id')
      .from(ConnectionEntity, 'c')
      .where('c.id = :connectionId', { connectionId });
    const [row] = await this.db.queryBuilt<{ institution_id: string; login_id: string }>(qb.getQueryAndParameters());
    return row ? { institutionId: row.institution_id, loginId: row.login_id } : null;
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
    const built = this.built.bind('active-job', { connectionId, action }, (p) =>
      this.jobs()
        .where(`j.connection_id = :connectionId AND j.action = :action AND ${ACTIVE_STATUS}`, p)
        .getQueryAndParameters(),
    );
    const [row] = await tx.queryBuilt<JobRow>(built);
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

  /**
   * `j.tenant_id = :tenantId`, in a form no planner can use as an index condition, for queries of
   * one connection's jobs (see findHistoryPage for why).
   */
  private tenantCheckOffIndex(): string {
    return this.db.kind === 'sqlite' ? "j.tenant_id || '' = :tenantId" : '(j.tenant_id = :tenantId) IS TRUE';
  }

  /** One page of a connection's history, newest first, after `after` (keyset). */
  async findHistoryPage(
    tenantId: string,
    connectionId: string,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<JobSummary[]> {
    // The tenant check must not be usable as an index condition: the page must walk the
    // connection's history index (connection_id, created_at, id), which reads `limit` rows at any
    // depth. Through the tenant-wide index (tenant_id, created_at, id) the scan reads every newer
    // job of the tenant's other connections before reaching this one's: with 1M jobs, 40% of them
    // on a connection whose jobs all predate the others', its page 1 took 466 ms that way (600,000
    // rows filtered out), 0.1 ms through the history index. PostgreSQL chose the tenant-wide index
    // with one tenant, or one connection holding most of a tenant's jobs (it judges heap order by
    // an index's first column only, and a tenant's rows are stored in time order).
    // SQLite (which plans without statistics) gets `tenant_id || ''`. PostgreSQL gets `(...) IS
    // TRUE`: not indexable either, yet estimated from the column's statistics like the plain
    // comparison (booltestsel), whereas the concatenation's default selectivity (0.5%) made it
    // price the history index as reading 200 rows per row kept, so a CSV export's batches of 1,000
    // became parallel sequential scans (the bench's CSV scenario, 1M jobs: 0.9 s a batch, 13 ms now).
    const tenant = this.tenantCheckOffIndex();
    const params = pageParams(filter, after, { connectionId, tenantId });
    // The API's hottest read: built once per shape, then only bound (BuiltQueries).
    const built = this.built.bind(shapeOf('history', params, limit), params, (p) =>
      pageQuery(
        this.jobs().where(`j.connection_id = :connectionId AND ${tenant}`, {
          connectionId: p.connectionId,
          tenantId: p.tenantId,
        }),
        p,
        limit,
      ),
    );
    return (await this.db.queryBuilt<JobRow>(built)).map(rowToJobSummary);
  }

  /** One page of the tenant-wide search, newest first. */
  searchJobs(
    tenantId: string,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<JobSummary[]> {
    // Narrowed to one connection, the page walks that connection's history index, as
    // findHistoryPage does (and for the same reason, the tenant check stays off the index).
    const qb = filter.connectionId
      ? this.jobs().where(`j.connection_id = :connectionId AND ${this.tenantCheckOffIndex()}`, {
          connectionId: filter.connectionId,
          tenantId,
        })
      : this.jobs().where('j.tenant_id = :tenantId', { tenantId });
    if (filter.idPrefix) qb.andWhere('j.id LIKE :idPrefix', { idPrefix: `${filter.idPrefix}%` });
    if (filter.errorCode) qb.andWhere('j.error_code = :errorCode', { errorCode: filter.errorCode });
    if (filter.institutionId) this.whereInstitution(qb, tenantId, filter.institutionId);
    return this.findPage(qb, filter, after, limit);
  }

  /** Jobs of the tenant's connections at this institution (through the connections' institution index). */
  private whereInstitution<T extends object>(
    qb: SelectQueryBuilder<T>,
    tenantId: string,
    institutionId: string,
  ): SelectQueryBuilder<T> {
    return qb.andWhere(
      'j.connection_id IN (SELECT c.id FROM connections c WHERE c.tenant_id = :tenantId AND c.institution_id = :institutionId)',
      { tenantId, institutionId },
    );
  }

  /** The tenant's jobs matching a bulk retry's filter. */
  private retryMatches(tenantId: string, filter: RetryFilter): SelectQueryBuilder<JobRow> {
    const qb = this.jobs().where('j.tenant_id = :tenantId AND j.status = :status', {
      tenantId,
      status: filter.status,
    });
    if (filter.action) qb.andWhere('j.action = :action', { action: filter.action });
    if (filter.errorCode) qb.andWhere('j.error_code = :errorCode', { errorCode: filter.errorCode });
    if (filter.connectionId) qb.andWhere('j.connection_id = :connectionId', { connectionId: filter.connectionId });
    if (filter.institutionId) this.whereInstitution(qb, tenantId, filter.institutionId);
    if (filter.from !== undefined) qb.andWhere('j.created_at >= :from', { from: filter.from });
    if (filter.to !== undefined) qb.andWhere('j.created_at <= :to', { to: filter.to });
    return qb;
  }

  private async count(qb: SelectQueryBuilder<JobRow>, tx: SqlExecutor): Promise<number> {
    const counted = qb.clone().select('COUNT(*)', 'count');
    const [row] = await tx.queryBuilt<{ count: number | string }>(counted.getQueryAndParameters());
    return Number(row?.count ?? 0);
  }

  /**
   * A bulk retry's candidates: how many jobs match, how many of those are the newest job of their
   * action on their connection (only those may be retried), and the oldest `cap` of them.
   */
  async findRetryCandidates(
    tenantId: string,
    filter: RetryFilter,
    cap: number,
  ): Promise<{ matched: number; newest: number; candidates: Job[] }> {
    const matched = await this.count(this.retryMatches(tenantId, filter), this.db);
    if (matched === 0) return { matched, newest: 0, candidates: [] };
    const newestQb = this.retryMatches(tenantId, filter).andWhere(NO_NEWER_JOB);
    const newest = await this.count(newestQb, this.db);
    newestQb.orderBy('j.created_at').addOrderBy('j.id').limit(cap);
    const rows = await this.db.queryBuilt<JobRow>(newestQb.getQueryAndParameters());
    return { matched, newest, candidates: rows.map(rowToJob) };
  }

  /** Of these jobs, those still unchanged and still the newest of their action on their connection. */
  async findStillRetryable(tx: SqlExecutor, tenantId: string, jobs: readonly Job[]): Promise<Set<string>> {
    const qb = this.jobs()
      .select('j.id', 'id')
      .where({ tenant_id: tenantId, id: In(jobs.map((j) => j.id)) })
      .andWhere(NO_NEWER_JOB);
    return new Set((await tx.queryBuilt<{ id: string }>(qb.getQueryAndParameters())).map((r) => r.id));
  }

  /** `connection_id:action` of every pending or processing job on these connections. */
  async findActiveActions(connectionIds: readonly string[], tx: SqlExecutor = this.db): Promise<Set<string>> {
    const active = new Set<string>();
    const unique = [...new Set(connectionIds)];
    for (let i = 0; i < unique.length; i += 500) {
      const qb = this.dataSource
        .createQueryBuilder()
        .select(['j.connection_id AS connection_id', 'j.action AS action'])
        .from(JobEntity, 'j')
        .where({ connection_id: In(unique.slice(i, i + 500)) })
        .andWhere(ACTIVE_STATUS);
      for (const r of await tx.queryBuilt<{ connection_id: string; action: string }>(qb.getQueryAndParameters()))
        active.add(`${r.connection_id}:${r.action}`);
    }
    return active;
  }

  /** When each connection's credentials were last replaced (absent: never). */
  async findCredentialsUpdatedAtMany(connectionIds: readonly string[]): Promise<Map<string, Date>> {
    const byId = new Map<string, Date>();
    const unique = [...new Set(connectionIds)];
    for (let i = 0; i < unique.length; i += 500) {
      const qb = this.dataSource
        .createQueryBuilder()
        .select(['c.id AS id', 'c.credentials_updated_at AS at'])
        .from(ConnectionEntity, 'c')
        .where({ id: In(unique.slice(i, i + 500)) });
      for (const r of await this.db.queryBuilt<{ id: string; at: number | string | null }>(qb.getQueryAndParameters()))
        if (r.at != null) byId.set(r.id, new Date(Number(r.at)));
    }
    return byId;
  }

  /**
   * Locks these connections until the transaction ends (PostgreSQL; SQLite has one writer), in id
   * order so two bulk retries never deadlock: retries of one connection's jobs are serialised.
   */
  async lockConnections(tx: SqlExecutor, connectionIds: readonly string[]): Promise<void> {
    if (this.db.kind !== 'postgres' || connectionIds.length === 0) return;
    const qb = this.dataSource
      .createQueryBuilder()
      .select('c.id', 'id')
      .from(ConnectionEntity, 'c')
      .where({ id: In([...new Set(connectionIds)]) })
      .orderBy('c.id')
      .setLock('pessimistic_write');
    await tx.queryBuilt(qb.getQueryAndParameters());
  }

  /** Counts of the tenant's jobs created in [from, to]: by status, by error code, per hour and status. */
  async stats(tenantId: string, from: number, to: number): Promise<JobStats> {
    const range = () =>
      this.dataSource
        .createQueryBuilder()
        .from(JobEntity, 'j')
        .where('j.tenant_id = :tenantId AND j.created_at >= :from AND j.created_at <= :to', { tenantId, from, to });
    const byStatus = range().select(['j.status AS status', 'COUNT(*) AS count']).groupBy('j.status');
    const byErrorCode = range()
      .select(['j.error_code AS code', 'COUNT(*) AS count'])
      .andWhere("j.status = 'failed' AND j.error_code IS NOT NULL")
      .groupBy('j.error_code')
      .orderBy('count', 'DESC')
      .addOrderBy('j.error_code')
      .limit(50);
    // Integer division on both databases (BIGINT / integer): the hour's number since the epoch.
    const perHour = range()
      .select(['j.created_at / 3600000 AS hour', 'j.status AS status', 'COUNT(*) AS count'])
      .groupBy('j.created_at / 3600000')
      .addGroupBy('j.status')
      .orderBy('hour');
    const run = <T>(qb: SelectQueryBuilder<object>) => this.db.queryBuilt<T>(qb.getQueryAndParameters());
    type Count = { count: number | string };
    const [s, e, h] = await Promise.all([
      run<Count & { status: string }>(byStatus),
      run<Count & { code: string }>(byErrorCode),
      run<Count & { hour: number | string; status: string }>(perHour),
    ]);
    return {
      byStatus: s.map((r) => ({ status: r.status, count: Number(r.count) })),
      byErrorCode: e.map((r) => ({ code: r.code, count: Number(r.count) })),
      perHour: h.map((r) => ({ hour: Number(r.hour), status: r.status, count: Number(r.count) })),
    };
  }

  private async findPage(
    qb: SelectQueryBuilder<JobRow>,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<JobSummary[]> {
    const rows = await this.db.queryBuilt<JobRow>(pageQuery(qb, pageParams(filter, after, {}), limit));
    return rows.map(rowToJobSummary);
  }

  /** The recorded status changes of a job, oldest first. */
  async findTransitions(jobId: string): Promise<JobTransition[]> {
    const qb = this.events().where("e.job_id = :jobId AND e.kind = 'transition'", { jobId }).orderBy('e.id');
    return (await this.db.queryBuilt<JobEventRow>(qb.getQueryAndParameters())).map(rowToTransition);
  }

  /**
   * Up to `limit` log lines of a job after `after`, oldest first. A row holds one line or several
   * (folded into a `log` row or into the transition they were recorded with: the engine's
   * `eventRows`), so `limit + 1` rows past the starting one hold `limit` lines when the job has them.
   */
  async findLogsPage(jobId: string, after: LogPosition | null, limit: number): Promise<StoredLogLine[]> {
    const qb = this.events()
      .where("e.job_id = :jobId AND (e.kind = 'log' OR e.lines IS NOT NULL) AND e.id >= :from", {
        jobId,
        from: after?.eventId ?? 0,
      })
      .orderBy('e.id')
      .limit(limit + 1);
    const rows = await this.db.queryBuilt<JobEventRow>(qb.getQueryAndParameters());
    return rows
      .flatMap(rowToLogLines)
      .filter((l) => !after || l.eventId > after.eventId || l.index > after.index)
      .slice(0, limit);
  }

  /** The id of the newest recorded event of the tenant (0 when there is none): where a new stream starts. */
  async findNewestEventId(tenantId: string): Promise<number> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('MAX(e.id)', 'id')
      .from(JobEventEntity, 'e')
      .where('e.tenant_id = :tenantId', { tenantId });
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

/** The named parameters of a page of jobs: `base`, the filter's (those set) and the keyset position's. */
function pageParams(filter: JobListFilter, after: KeysetPosition | null, base: QueryParams): QueryParams {
  return {
    ...base,
    ...(filter.statuses?.length ? { statuses: filter.statuses } : {}),
    ...(filter.action ? { action: filter.action } : {}),
    ...(filter.from !== undefined ? { from: filter.from } : {}),
    ...(filter.to !== undefined ? { to: filter.to } : {}),
    ...(after ? { afterAt: after.createdAt, afterId: after.id } : {}),
  };
}

/** What makes a page query's SQL differ: the parameters present, the size of a list, the limit. */
function shapeOf(name: string, params: QueryParams, limit: number): string {
  const parts = Object.entries(params).map(([k, v]) => (Array.isArray(v) ? `${k}[${v.length}]` : k));
  return `${name}:${parts.join(',')}:${limit}`;
}

/** A page of jobs, newest first: `qb` narrowed by the filter and keyset parameters in `p`. */
function pageQuery(qb: SelectQueryBuilder<JobRow>, p: QueryParams, limit: number): BuilderOutput {
  if (p.statuses !== undefined) qb.andWhere('j.status IN (:...statuses)', { statuses: p.statuses });
  if (p.action !== undefined) qb.andWhere('j.action = :action', { action: p.action });
  if (p.from !== undefined) qb.andWhere('j.created_at >= :from', { from: p.from });
  if (p.to !== undefined) qb.andWhere('j.created_at <= :to', { to: p.to });
  // Marker strings stand for the values while a shape is first built (BuiltQueries).
  const after = p.afterAt !== undefined ? ({ createdAt: p.afterAt, id: p.afterId } as unknown as KeysetPosition) : null;
  whereAfter(qb, 'j', after).orderBy('j.created_at', 'DESC').addOrderBy('j.id', 'DESC').limit(limit);
  return qb.getQueryAndParameters();
}
