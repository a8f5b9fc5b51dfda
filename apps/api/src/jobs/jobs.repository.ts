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
  | {
      readonly kind: 'log';
      readonly at: Date;
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly step: string | null;
      readonly message: string;
    };

/** A stored log line. */
export interface JobLogLine {
  readonly seq: number;
  readonly at: Date;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly step: string | null;
  readonly message: string;
}

const INSERT_JOB = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`;
/** The columns a change of a job can touch, with their SQL types (PostgreSQL types VALUES by them). */
const MUTABLE_COLUMNS = {
  status: 'VARCHAR(16)',
  updated_at: 'BIGINT',
  started_at: 'BIGINT',
  finished_at: 'BIGINT',
  attempt: 'INTEGER',
  run_at: 'BIGINT',
  lease_owner: 'VARCHAR(100)',
  lease_expires_at: 'BIGINT',
  deadline_at: 'BIGINT',
  cancel_requested_at: 'BIGINT',
  steps: 'TEXT',
  error: 'TEXT',
  result: 'TEXT',
} as const;
type MutableColumn = keyof typeof MUTABLE_COLUMNS;
const MUTABLE = Object.keys(MUTABLE_COLUMNS) as MutableColumn[];
const VALUE_COLUMNS = ['id', 'tenant_id', 'exp_status', 'exp_attempt', ...MUTABLE] as const;
const VALUE_TYPES: Record<(typeof VALUE_COLUMNS)[number], string> = {
  id: 'VARCHAR(36)',
  tenant_id: 'VARCHAR(36)',
  exp_status: 'VARCHAR(16)',
  exp_attempt: 'INTEGER',
  ...MUTABLE_COLUMNS,
};
const VALUES_ROW = `(${VALUE_COLUMNS.map((c) => `CAST(? AS ${VALUE_TYPES[c]})`).join(', ')})`;

/**
 * How each column is set from the new values `v`. Two never go backwards, whatever a writer read
 * earlier: a stored cancel request is never cleared, and a lease renewed by the heartbeat meanwhile
 * is never shortened by a progress write computed before it (releasing the lease sets NULL).
 */
function setClause(c: MutableColumn): string {
  switch (c) {
    case 'cancel_requested_at':
      return `${c} = COALESCE(jobs.${c}, v.${c})`;
    case 'lease_expires_at':
      return `${c} = CASE WHEN v.${c} IS NULL THEN NULL WHEN jobs.${c} IS NULL OR jobs.${c} < v.${c} THEN v.${c} ELSE jobs.${c} END`;
    default:
      return `${c} = v.${c}`;
  }
}

// One statement for a whole batch of fenced writes: UPDATE ... FROM a VALUES list, which both
// databases accept (SQLite 3.33+), RETURNING the ids that passed their fence.
function updateJobsSql(rows: number): string {
  return `WITH v (${VALUE_COLUMNS.join(', ')}) AS (VALUES ${Array.from({ length: rows }, () => VALUES_ROW).join(', ')})
    UPDATE jobs SET ${MUTABLE.map(setClause).join(', ')}
    FROM v WHERE jobs.id = v.id AND jobs.tenant_id = v.tenant_id AND jobs.status = v.exp_status AND jobs.attempt = v.exp_attempt
    RETURNING jobs.id`;
}

const UPDATE_ROWS_PER_STATEMENT = 500;

// PostgreSQL: the same update from one array per column (a statement of constant size).
const UPDATE_JOBS_UNNEST = `UPDATE jobs SET ${MUTABLE.map(setClause).join(', ')}
  FROM unnest(${VALUE_COLUMNS.map((c) => `CAST(? AS ${VALUE_TYPES[c].replace(/\(\d+\)/, '')}[])`).join(', ')}) AS v (${VALUE_COLUMNS.join(', ')})
  WHERE jobs.id = v.id AND jobs.tenant_id = v.tenant_id AND jobs.status = v.exp_status AND jobs.attempt = v.exp_attempt
  RETURNING jobs.id`;

/** A write of a job's new state, fenced on the status and attempt it was computed from. */
export interface FencedJobUpdate {
  readonly tenantId: string;
  readonly next: Job;
  readonly expected: { readonly status: JobStatus; readonly attempt: number };
}

// Where each mutable column sits among all columns: the mapper is the one place that serialises a job.
const MUTABLE_POSITIONS = MUTABLE.map((c) => JOB_COLUMNS.indexOf(c));

function mutableValues(job: Job): unknown[] {
  const all = jobToValues(job, '');
  return MUTABLE_POSITIONS.map((i) => all[i]);
}

const EVENT_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const EVENT_COLUMN_TYPES = [
  'VARCHAR',
  'VARCHAR',
  'VARCHAR',
  'VARCHAR',
  'BIGINT',
  'VARCHAR',
  'VARCHAR',
  'VARCHAR',
  'VARCHAR',
  'INTEGER',
  'VARCHAR',
  'VARCHAR',
  'TEXT',
];
// 13 parameters a row: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const EVENT_ROWS_PER_INSERT = 1_000;

function eventValues(job: { id: string; connectionId: string }, tenantId: string, e: NewJobEvent): unknown[] {
  switch (e.kind) {
    case 'created':
      return [
        job.id,
        tenantId,
        job.connectionId,
        'created',
        e.at.getTime(),
        null,
        'pending',
        e.reason,
        e.actor,
        0,
        null,
        null,
        null,
      ];
    case 'transition': {
      const t = e.transition;
      return [
        job.id,
        tenantId,
        job.connectionId,
        'transition',
        t.at.getTime(),
        t.from,
        t.to,
        t.reason,
        t.actor,
        t.attempt,
        null,
        null,
        null,
      ];
    }
    case 'log':
      return [
        job.id,
        tenantId,
        job.connectionId,
        'log',
        e.at.getTime(),
        null,
        null,
        null,
        null,
        null,
        e.level,
        e.step,
        e.message,
      ];
  }
}

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
  async updateJobFenced(
    tx: SqlExecutor,
    tenantId: string,
    next: Job,
    expected: { status: JobStatus; attempt: number },
  ): Promise<boolean> {
    return (await this.updateJobsFenced(tx, [{ tenantId, next, expected }])).has(next.id);
  }

  /** `updateJobFenced` for many jobs in as few statements as possible; returns the ids written. */
  async updateJobsFenced(tx: SqlExecutor, updates: readonly FencedJobUpdate[]): Promise<Set<string>> {
    const written = new Set<string>();
    if (updates.length === 0) return written;
    if (this.db.kind === 'postgres') {
      const rows = updates.map((u) => [
        u.next.id,
        u.tenantId,
        u.expected.status,
        u.expected.attempt,
        ...mutableValues(u.next),
      ]);
      const columns = VALUE_COLUMNS.map((_, c) => rows.map((r) => r[c]));
      for (const r of await tx.query<{ id: string }>(UPDATE_JOBS_UNNEST, columns)) written.add(r.id);
      return written;
    }
    for (let i = 0; i < updates.length; i += UPDATE_ROWS_PER_STATEMENT) {
      const chunk = updates.slice(i, i + UPDATE_ROWS_PER_STATEMENT);
      const params = chunk.flatMap((u) => [
        u.next.id,
        u.tenantId,
        u.expected.status,
        u.expected.attempt,
        ...mutableValues(u.next),
      ]);
      for (const r of await tx.query<{ id: string }>(updateJobsSql(chunk.length), params)) written.add(r.id);
    }
    return written;
  }

  /** Records events of one job in one multi-row insert; returns the id of the last one (0 when none). */
  async insertEvents(
    tx: SqlExecutor,
    job: { id: string; connectionId: string },
    tenantId: string,
    events: readonly NewJobEvent[],
  ): Promise<number> {
    const ids = await this.insertEventsOfJobs(tx, [{ job, tenantId, events }]);
    return ids.get(job.id) ?? 0;
  }

  /**
   * Records the events of many jobs in as few multi-row inserts as the databases' parameter limits
   * allow; returns, per job id, the id of its last event.
   */
  async insertEventsOfJobs(
    tx: SqlExecutor,
    batches: ReadonlyArray<{
      job: { id: string; connectionId: string };
      tenantId: string;
      events: readonly NewJobEvent[];
    }>,
  ): Promise<Map<string, number>> {
    const rows: unknown[][] = [];
    for (const { job, tenantId, events } of batches) {
      for (const e of events) rows.push(eventValues(job, tenantId, e));
    }
    const lastIds = new Map<string, number>();
    if (rows.length === 0) return lastIds;
    if (this.db.kind === 'postgres') {
      // One array parameter per column: a statement whose size does not grow with the batch.
      const columns = EVENT_COLUMN_TYPES.map((_, c) => rows.map((r) => r[c]));
      const inserted = await tx.query<{ id: number | string; job_id: string }>(
        `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message)
         SELECT * FROM unnest(${EVENT_COLUMN_TYPES.map((t) => `CAST(? AS ${t}[])`).join(', ')}) RETURNING id, job_id`,
        columns,
      );
      for (const r of inserted) lastIds.set(r.job_id, Math.max(lastIds.get(r.job_id) ?? 0, Number(r.id)));
      return lastIds;
    }
    for (let i = 0; i < rows.length; i += EVENT_ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + EVENT_ROWS_PER_INSERT);
      const inserted = await tx.query<{ id: number | string; job_id: string }>(
        `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message)
         VALUES ${chunk.map(() => EVENT_ROW).join(', ')} RETURNING id, job_id`,
        chunk.flat(),
      );
      for (const r of inserted) lastIds.set(r.job_id, Math.max(lastIds.get(r.job_id) ?? 0, Number(r.id)));
    }
    return lastIds;
  }

  async findJob(tenantId: string, jobId: string, tx: SqlExecutor = this.db): Promise<Job | null> {
    const row = (await tx.query<JobRow>('SELECT * FROM jobs WHERE id = ? AND tenant_id = ?', [jobId, tenantId]))[0];
    return row ? rowToJob(row) : null;
  }

  /** The pending or processing job of this action on the connection, if any. */
  async findActiveJob(connectionId: string, action: JobAction, tx: SqlExecutor = this.db): Promise<Job | null> {
    const row = (
      await tx.query<JobRow>(
        `SELECT * FROM jobs WHERE connection_id = ? AND action = ? AND status IN ('pending', 'processing')`,
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
      'SELECT created_at FROM jobs WHERE connection_id = ? AND action = ? AND created_at > ? ORDER BY created_at DESC LIMIT ?',
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
    return this.findPage(['connection_id = ?', "tenant_id || '' = ?"], [connectionId, tenantId], filter, after, limit);
  }

  /** One page of the tenant-wide search, newest first. */
  async searchJobs(
    tenantId: string,
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
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

  private async findPage(
    where: string[],
    params: unknown[],
    filter: JobListFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<Job[]> {
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
      // The redundant `created_at <= ?` is what lets both databases seek the index at the cursor:
      // an OR alone is only a filter, so a deep page would walk every newer row first.
      w.push('created_at <= ? AND (created_at < ? OR (created_at = ? AND id < ?))');
      p.push(after.createdAt, after.createdAt, after.createdAt, after.id);
    }
    const rows = await this.db.query<JobRow>(
      `SELECT * FROM jobs WHERE ${w.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...p, limit],
    );
    return rows.map(rowToJob);
  }

  /** The recorded status changes of a job, oldest first. */
  async findTransitions(jobId: string): Promise<JobTransition[]> {
    const rows = await this.db.query<JobEventRow>(
      `SELECT * FROM job_events WHERE job_id = ? AND kind = 'transition' ORDER BY id`,
      [jobId],
    );
    return rows.map(rowToTransition);
  }

  /** Log lines of a job after `afterSeq`, oldest first. */
  async findLogsPage(jobId: string, afterSeq: number, limit: number): Promise<JobLogLine[]> {
    const rows = await this.db.query<JobEventRow>(
      `SELECT * FROM job_events WHERE job_id = ? AND kind = 'log' AND id > ? ORDER BY id LIMIT ?`,
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
}
