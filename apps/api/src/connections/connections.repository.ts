import { Injectable } from '@nestjs/common';
import {
  isConnectionStatus,
  toJobSummaryWire,
  type ConnectionStatus,
  type ConnectionWire,
  type JobStatus,
  type JobSummaryWire,
} from '@jobtrail/domain';
import {
  Database,
  JOB_COLUMNS,
  dateOrNull,
  millis,
  rowToJob,
  type ConnectionRow,
  type JobRow,
  type SqlExecutor,
  type Transaction,
} from '@jobtrail/engine';
import { Brackets, DataSource, IsNull, type SelectQueryBuilder } from 'typeorm';
import { whereAfter, type KeysetPosition } from '../common/cursor.js';
import {
  AccountEntity,
  ConnectionEntity,
  JobEntity,
  JobEventEntity,
  TransactionEntity,
} from '../persistence/entities.js';

/** A connection with its latest job, as listed. */
export interface ConnectionView {
  readonly wire: ConnectionWire;
  readonly createdAt: number;
}

/** Filters of the connections list. */
export interface ConnectionListFilter {
  readonly status?: ConnectionStatus;
  readonly institutionId?: string;
  readonly userRef?: string;
  /** Only connections whose latest job (`latest_job_id`) has this status. */
  readonly latestJobStatus?: JobStatus;
  /** `q`: the login's keyed hash, the reference itself, and (when it can be one) an id prefix. */
  readonly search?: { readonly loginHash: string; readonly text: string; readonly idPrefix: string | null };
}

type ConnectionJoinRow = ConnectionRow & Record<`j_${(typeof JOB_COLUMNS)[number]}`, unknown>;

function toView(row: ConnectionJoinRow): ConnectionView {
  let latestJob = null;
  if (row.j_id !== null && row.j_id !== undefined) {
    const jobRow = Object.fromEntries(JOB_COLUMNS.map((c) => [c, row[`j_${c}`]])) as unknown as JobRow;
    latestJob = toJobSummaryWire(rowToJob(jobRow));
  }
  const createdAt = millis(row.created_at);
  return { createdAt, wire: connectionWire(row, latestJob) };
}

/** The connection columns the API shows. */
export type ConnectionWireRow = Pick<
  ConnectionRow,
  'id' | 'institution_id' | 'login_id' | 'user_ref' | 'created_at' | 'status' | 'credentials_updated_at'
> &
  Partial<Pick<ConnectionRow, 'refresh_every_hours' | 'next_refresh_at'>>;

/** A connection as the API shows it (never with its credentials). */
export function connectionWire(row: ConnectionWireRow, latestJob: JobSummaryWire | null): ConnectionWire {
  const updated = dateOrNull(row.credentials_updated_at);
  return {
    connection_id: row.id,
    institution_id: row.institution_id,
    login_id: row.login_id,
    user_ref: row.user_ref,
    created_at: new Date(millis(row.created_at)).toISOString(),
    status: isConnectionStatus(row.status) ? row.status : 'pending',
    credentials_updated_at: updated === null ? null : updated.toISOString(),
    refresh_every_hours: row.refresh_every_hours == null ? null : Number(row.refresh_every_hours),
    next_refresh_at: row.next_refresh_at == null ? null : new Date(millis(row.next_refresh_at)).toISOString(),
    latest_job: latestJob,
  };
}

/** Connections of a tenant. Credentials are written encrypted and never read back here. */
@Injectable()
export class ConnectionsRepository {
  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
  ) {}

  /** Connections with their latest job's columns (prefixed `j_`). */
  private withLatestJob(): SelectQueryBuilder<ConnectionJoinRow> {
    return this.dataSource
      .createQueryBuilder()
      .select('c.*')
      .addSelect(JOB_COLUMNS.map((column) => `j.${column} AS j_${column}`))
      .from(ConnectionEntity, 'c')
      .leftJoin(JobEntity.options.name, 'j', 'j.id = c.latest_job_id') as SelectQueryBuilder<ConnectionJoinRow>;
  }

  async insertConnection(
    tx: Transaction,
    row: Omit<
      ConnectionRow,
      | 'latest_job_id'
      | 'status'
      | 'last_refresh_job_id'
      | 'credentials_updated_at'
      | 'login_hash'
      | 'refresh_every_hours'
      | 'next_refresh_at'
    > &
      Partial<Pick<ConnectionRow, 'login_hash' | 'refresh_every_hours' | 'next_refresh_at'>>,
  ): Promise<void> {
    await tx.manager.insert(ConnectionEntity, {
      login_hash: null,
      refresh_every_hours: null,
      next_refresh_at: null,
      ...row,
      latest_job_id: null,
      status: 'pending',
      last_refresh_job_id: null,
      credentials_updated_at: null,
    });
  }

  async findConnection(
    tenantId: string,
    connectionId: string,
    tx: SqlExecutor = this.db,
  ): Promise<ConnectionView | null> {
    const qb = this.withLatestJob().where('c.id = :connectionId AND c.tenant_id = :tenantId', {
      connectionId,
      tenantId,
    });
    const [row] = await tx.queryBuilt<ConnectionJoinRow>(qb.getQueryAndParameters());
    return row ? toView(row) : null;
  }

  /** One page of the tenant's connections, newest first. */
  async findConnectionsPage(
    tenantId: string,
    filter: ConnectionListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<ConnectionView[]> {
    const qb = this.withLatestJob().where('c.tenant_id = :tenantId', { tenantId });
    if (filter.status) qb.andWhere('c.status = :status', { status: filter.status });
    if (filter.institutionId) qb.andWhere('c.institution_id = :institutionId', { institutionId: filter.institutionId });
    if (filter.userRef) qb.andWhere('c.user_ref = :userRef', { userRef: filter.userRef });
    // On the joined latest job (primary key lookup from `latest_job_id`): no column on connections
    // to keep in step with every job change. The planner may also start from the tenant's jobs of
    // that status (`ix_jobs_tenant_status`) and find their connections by `ix_connections_latest_job`.
    if (filter.latestJobStatus) qb.andWhere('j.status = :latestJobStatus', { latestJobStatus: filter.latestJobStatus });
    const search = filter.search;
    if (search) {
      qb.andWhere(
        new Brackets((or) => {
          or.where('c.login_hash = :loginHash', { loginHash: search.loginHash });
          or.orWhere('c.user_ref = :searchText', { searchText: search.text });
          if (search.idPrefix) or.orWhere('c.id LIKE :idPrefix', { idPrefix: `${search.idPrefix}%` });
        }),
      );
    }
    whereAfter(qb, 'c', after).orderBy('c.created_at', 'DESC').addOrderBy('c.id', 'DESC').limit(limit);
    return (await this.db.queryBuilt<ConnectionJoinRow>(qb.getQueryAndParameters())).map(toView);
  }

  /**
   * The connection's status and when its credentials changed, locked until the transaction ends
   * on PostgreSQL (SQLite has one writer), so a credentials update and a finishing refresh that
   * both set the status are ordered.
   */
  async lockConnection(
    tx: Transaction,
    tenantId: string,
    connectionId: string,
  ): Promise<Pick<ConnectionRow, 'status' | 'credentials_updated_at'> | null> {
    const qb = tx.manager
      .createQueryBuilder()
      .select(['c.status AS status', 'c.credentials_updated_at AS credentials_updated_at'])
      .from(ConnectionEntity, 'c')
      .where('c.id = :connectionId AND c.tenant_id = :tenantId', { connectionId, tenantId });
    if (this.db.kind === 'postgres') qb.setLock('pessimistic_write');
    const [row] = await tx.queryBuilt<Pick<ConnectionRow, 'status' | 'credentials_updated_at'>>(
      qb.getQueryAndParameters(),
    );
    return row ?? null;
  }

  /** Replaces the credentials (and login) of a connection. */
  async updateCredentials(
    tx: Transaction,
    connectionId: string,
    values: Pick<ConnectionRow, 'credentials_enc' | 'credentials_updated_at' | 'status'> &
      Partial<Pick<ConnectionRow, 'login_id' | 'login_hash' | 'refresh_every_hours' | 'next_refresh_at'>>,
  ): Promise<void> {
    await tx.manager.update(ConnectionEntity, { id: connectionId }, values);
  }

  /** Sets the refresh schedule and its first slot; false when the connection is not the tenant's. */
  async updateSchedule(
    tenantId: string,
    connectionId: string,
    hours: number | null,
    nextRefreshAt: number | null,
  ): Promise<boolean> {
    return this.db.withManager(
      async (m) =>
        ((
          await m.update(
            ConnectionEntity,
            { id: connectionId, tenant_id: tenantId },
            { refresh_every_hours: hours, next_refresh_at: nextRefreshAt },
          )
        ).affected ?? 0) === 1,
    );
  }

  /** Connections created before logins were hashed: a batch of them to hash. */
  async findUnhashedLogins(limit: number): Promise<Array<Pick<ConnectionRow, 'id' | 'login_id'>>> {
    return this.db.withManager((m) =>
      m.find(ConnectionEntity, { select: { id: true, login_id: true }, where: { login_hash: IsNull() }, take: limit }),
    );
  }

  async setLoginHash(connectionId: string, loginHash: string): Promise<void> {
    await this.db.withManager((m) => m.update(ConnectionEntity, { id: connectionId }, { login_hash: loginHash }));
  }

  /** Deletes the connection with its jobs, events, accounts and transactions. */
  async deleteConnection(tenantId: string, connectionId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const m = tx.manager;
      if (!(await m.existsBy(ConnectionEntity, { id: connectionId, tenant_id: tenantId }))) return false;
      // The jobs are locked before anything is deleted, in the order every writer takes them (the
      // job, then what hangs off it). A worker writing bank data holds its job's row while it upserts
      // accounts and transactions; deleting those first and waiting for the job after was a
      // deadlock (seen: DELETE jobs against INSERT transactions). Now the delete waits at once, or
      // the worker finds its job gone and stops.
      // (SQLite has one writer at a time: nothing to order.)
      if (this.db.kind === 'postgres')
        await m
          .createQueryBuilder(JobEntity, 'j')
          .select('j.id')
          .where('j.connection_id = :connectionId', { connectionId })
          .setLock('pessimistic_write')
          .getMany();
      // Children first, explicitly: the result must not depend on a cascade being enabled.
      // By the connection's job ids: job_events is indexed by job, not by connection (it is the
      // busiest table to insert into, so it carries no index only this rare delete would use).
      await m
        .createQueryBuilder()
        .delete()
        .from(JobEventEntity)
        .where(`job_id IN (SELECT id FROM jobs WHERE connection_id = :connectionId)`, { connectionId })
        .execute();
      await m.delete(TransactionEntity, { connection_id: connectionId });
      await m.delete(AccountEntity, { connection_id: connectionId });
      await m.delete(JobEntity, { connection_id: connectionId });
      return ((await m.delete(ConnectionEntity, { id: connectionId, tenant_id: tenantId })).affected ?? 0) === 1;
    });
  }
}
