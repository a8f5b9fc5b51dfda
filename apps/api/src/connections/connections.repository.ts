import { Injectable } from '@nestjs/common';
import { toJobSummaryWire, type ConnectionWire, type JobSummaryWire } from '@jobtrail/domain';
import {
  Database,
  JOB_COLUMNS,
  millis,
  rowToJob,
  type ConnectionRow,
  type JobRow,
  type SqlExecutor,
} from '@jobtrail/engine';
import { keysetAfter, type KeysetPosition } from '../common/cursor.js';

/** A connection with its latest job, as listed. */
export interface ConnectionView {
  readonly wire: ConnectionWire;
  readonly createdAt: number;
}

// The latest job's columns come prefixed (j_...) so they never clash with the connection's own.
const LATEST_JOB_SELECT = JOB_COLUMNS.map((c) => `j.${c} AS j_${c}`).join(', ');

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
  constructor(private readonly db: Database) {}

  async insertConnection(tx: SqlExecutor, row: Omit<ConnectionRow, 'latest_job_id'>): Promise<void> {
    await tx.execute(
      'INSERT INTO connections (id, tenant_id, institution_id, login_id, credentials_enc, user_ref, created_at, latest_job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)',
      [row.id, row.tenant_id, row.institution_id, row.login_id, row.credentials_enc, row.user_ref, row.created_at],
    );
  }

  /** True when the connection exists for this tenant. */
  async connectionExists(tenantId: string, connectionId: string, tx: SqlExecutor = this.db): Promise<boolean> {
    return (
      (await tx.query('SELECT 1 AS found FROM connections WHERE id = $1 AND tenant_id = $2', [connectionId, tenantId]))
        .length > 0
    );
  }

  async findConnection(tenantId: string, connectionId: string): Promise<ConnectionView | null> {
    const rows = await this.db.query<ConnectionJoinRow>(
      `SELECT c.*, ${LATEST_JOB_SELECT} FROM connections c LEFT JOIN jobs j ON j.id = c.latest_job_id WHERE c.id = $1 AND c.tenant_id = $2`,
      [connectionId, tenantId],
    );
    return rows[0] ? toView(rows[0]) : null;
  }

  /** One page of the tenant's connections, newest first. */
  async findConnectionsPage(tenantId: string, after: KeysetPosition | null, limit: number): Promise<ConnectionView[]> {
    const params: unknown[] = [tenantId, limit];
    const keyset = after ? `AND ${keysetAfter('c.', after, params)}` : '';
    const rows = await this.db.query<ConnectionJoinRow>(
      `SELECT c.*, ${LATEST_JOB_SELECT} FROM connections c LEFT JOIN jobs j ON j.id = c.latest_job_id
        WHERE c.tenant_id = $1 ${keyset} ORDER BY c.created_at DESC, c.id DESC LIMIT $2`,
      params,
    );
    return rows.map(toView);
  }

  /** Deletes the connection with its jobs, events, accounts and transactions (cascades). */
  async deleteConnection(tenantId: string, connectionId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // Children first, explicitly: the result must not depend on a cascade being enabled.
      const exists = await this.connectionExists(tenantId, connectionId, tx);
      if (!exists) return false;
      await tx.execute('DELETE FROM job_events WHERE connection_id = $1', [connectionId]);
      await tx.execute('DELETE FROM transactions WHERE connection_id = $1', [connectionId]);
      await tx.execute('DELETE FROM accounts WHERE connection_id = $1', [connectionId]);
      await tx.execute('DELETE FROM jobs WHERE connection_id = $1', [connectionId]);
      return (
        (await tx.execute('DELETE FROM connections WHERE id = $1 AND tenant_id = $2', [connectionId, tenantId])) === 1
      );
    });
  }
}
