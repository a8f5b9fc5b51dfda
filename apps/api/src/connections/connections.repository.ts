import { Injectable } from '@nestjs/common';
import type { ConnectionWire } from '@jobtrail/domain';
import { toJobSummaryWire } from '@jobtrail/domain';
import type { KeysetPosition } from '../common/cursor.js';
import { Database, millis, type SqlExecutor } from '../database/database.js';
import type { ConnectionRow, JobRow } from '../database/rows.js';
import { JOB_COLUMNS, rowToJob } from '../jobs/job.mapper.js';

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
  return {
    createdAt,
    wire: {
      connection_id: row.id,
      institution_id: row.institution_id,
      login_id: row.login_id,
      user_ref: row.user_ref,
      created_at: new Date(createdAt).toISOString(),
      latest_job: latestJob,
    },
  };
}

/** Connections of a tenant. Credentials are written encrypted and never read back here. */
@Injectable()
export class ConnectionsRepository {
  constructor(private readonly db: Database) {}

  async insertConnection(tx: SqlExecutor, row: Omit<ConnectionRow, 'latest_job_id'>): Promise<void> {
    await tx.execute(
      'INSERT INTO connections (id, tenant_id, institution_id, login_id, credentials_enc, user_ref, created_at, latest_job_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
      [row.id, row.tenant_id, row.institution_id, row.login_id, row.credentials_enc, row.user_ref, row.created_at],
    );
  }

  async setLatestJob(tx: SqlExecutor, connectionId: string, jobId: string): Promise<void> {
    await tx.execute('UPDATE connections SET latest_job_id = ? WHERE id = ?', [jobId, connectionId]);
  }

  /** True when the connection exists for this tenant. */
  async connectionExists(tenantId: string, connectionId: string, tx: SqlExecutor = this.db): Promise<boolean> {
    return (
      (await tx.query('SELECT 1 AS found FROM connections WHERE id = ? AND tenant_id = ?', [connectionId, tenantId]))
        .length > 0
    );
  }

  async findConnection(tenantId: string, connectionId: string): Promise<ConnectionView | null> {
    const rows = await this.db.query<ConnectionJoinRow>(
      `SELECT c.*, ${LATEST_JOB_SELECT} FROM connections c LEFT JOIN jobs j ON j.id = c.latest_job_id WHERE c.id = ? AND c.tenant_id = ?`,
      [connectionId, tenantId],
    );
    return rows[0] ? toView(rows[0]) : null;
  }

  /** One page of the tenant's connections, newest first. */
  async findConnectionsPage(tenantId: string, after: KeysetPosition | null, limit: number): Promise<ConnectionView[]> {
    const params: unknown[] = [tenantId];
    let keyset = '';
    if (after) {
      // `c.created_at <= ?` makes the index seek at the cursor (the OR alone is only a filter).
      keyset = 'AND c.created_at <= ? AND (c.created_at < ? OR (c.created_at = ? AND c.id < ?))';
      params.push(after.createdAt, after.createdAt, after.createdAt, after.id);
    }
    const rows = await this.db.query<ConnectionJoinRow>(
      `SELECT c.*, ${LATEST_JOB_SELECT} FROM connections c LEFT JOIN jobs j ON j.id = c.latest_job_id
        WHERE c.tenant_id = ? ${keyset} ORDER BY c.created_at DESC, c.id DESC LIMIT ?`,
      [...params, limit],
    );
    return rows.map(toView);
  }

  /** Deletes the connection with its jobs, events, accounts and transactions (cascades). */
  async deleteConnection(tenantId: string, connectionId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // Children first, explicitly: the result must not depend on a cascade being enabled.
      const exists = await this.connectionExists(tenantId, connectionId, tx);
      if (!exists) return false;
      await tx.execute('DELETE FROM job_events WHERE connection_id = ?', [connectionId]);
      await tx.execute('DELETE FROM transactions WHERE connection_id = ?', [connectionId]);
      await tx.execute('DELETE FROM accounts WHERE connection_id = ?', [connectionId]);
      await tx.execute('DELETE FROM jobs WHERE connection_id = ?', [connectionId]);
      return (
        (await tx.execute('DELETE FROM connections WHERE id = ? AND tenant_id = ?', [connectionId, tenantId])) === 1
      );
    });
  }
}
