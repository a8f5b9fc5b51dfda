import { Injectable } from '@nestjs/common';
import { toJobSummaryWire, type ConnectionWire, type JobSummaryWire } from '@jobtrail/domain';
import {
  Database,
  JOB_COLUMNS,
  millis,
  rowToJob,
  type ConnectionRow,
  type JobRow,
  type Transaction,
} from '@jobtrail/engine';
import { DataSource, type SelectQueryBuilder } from 'typeorm';
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

type ConnectionJoinRow = ConnectionRow & Record<`j_${(typeof JOB_COLUMNS)[number]}`, unknown>;

function toView(row: ConnectionJoinRow): ConnectionView {
  let latestJob = null;
  if (row.j_id !== null && row.j_id !== undefined) {
    const jobRow = Object.fromEntries(JOB_COLUMNS.map((c) => [c, row[`j_${c}`]])) as unknown as JobRow;
    latestJob = toJobSummaryWire(rowToJob(jobRow));
  }
  const createdAt = millis(row.created_at);
  return { createdAt, wire: connectionWire(row, createdAt, latestJob) };
}

/** A connection as the API shows it (never with its credentials). */
export function connectionWire(
  row: Pick<ConnectionRow, 'id' | 'institution_id' | 'login_id' | 'user_ref'>,
  createdAt: number,
  latestJob: JobSummaryWire | null,
): ConnectionWire {
  return {
    connection_id: row.id,
    institution_id: row.institution_id,
    login_id: row.login_id,
    user_ref: row.user_ref,
    created_at: new Date(createdAt).toISOString(),
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

  async insertConnection(tx: Transaction, row: Omit<ConnectionRow, 'latest_job_id'>): Promise<void> {
    await tx.manager.insert(ConnectionEntity, { ...row, latest_job_id: null });
  }

  async findConnection(tenantId: string, connectionId: string): Promise<ConnectionView | null> {
    const qb = this.withLatestJob().where('c.id = :connectionId AND c.tenant_id = :tenantId', {
      connectionId,
      tenantId,
    });
    const [row] = await this.db.queryBuilt<ConnectionJoinRow>(qb.getQueryAndParameters());
    return row ? toView(row) : null;
  }

  /** One page of the tenant's connections, newest first. */
  async findConnectionsPage(tenantId: string, after: KeysetPosition | null, limit: number): Promise<ConnectionView[]> {
    const qb = this.withLatestJob().where('c.tenant_id = :tenantId', { tenantId });
    whereAfter(qb, 'c', after).orderBy('c.created_at', 'DESC').addOrderBy('c.id', 'DESC').limit(limit);
    return (await this.db.queryBuilt<ConnectionJoinRow>(qb.getQueryAndParameters())).map(toView);
  }

  /** Deletes the connection with its jobs, events, accounts and transactions. */
  async deleteConnection(tenantId: string, connectionId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const m = tx.manager;
      if (!(await m.existsBy(ConnectionEntity, { id: connectionId, tenant_id: tenantId }))) return false;
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
