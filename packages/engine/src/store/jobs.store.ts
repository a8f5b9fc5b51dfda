import {
  circuitAfterOutcome,
  circuitOutcomeOf,
  closedCircuit,
  connectionStatusAfterRefresh,
  fenceHolds,
  isParked,
  type CircuitState,
  type InstitutionCircuit,
  mergeConcurrentChanges,
  toJobSummaryWire,
  type Job,
  type JobFence,
  type JobTransition,
  type StoredJobState,
} from '@jobtrail/domain';
import type { JobChange } from '../bus/job-events.bus.js';
import { changePayloads, notify } from '../bus/notifications.js';
import { Database, dateOrNull, placeholders, type SqlExecutor } from '../database/database.js';
import { JOB_COLUMNS, jobToValues, rowToJob } from './job.mapper.js';
import type { JobRow } from './rows.js';
import { WebhookOutbox } from '../webhooks/webhook-outbox.js';

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

/**
 * One change of one job: its new state, what it was computed from, and the events to record.
 * `before` null creates the job; otherwise the write is fenced on `before` (status and attempt).
 */
export interface JobWrite {
  readonly tenantId: string;
  readonly before: JobFence | null;
  readonly next: Job;
  readonly events: readonly NewJobEvent[];
}

/** A write that passed its fence: the job as stored, and the live event to publish. */
export interface CommittedWrite {
  readonly job: Job;
  readonly change: JobChange;
}

/** A job as a worker holds it: with its tenant and what is needed to reach the institution. */
export interface ClaimedJob {
  readonly job: Job;
  readonly tenantId: string;
  readonly institutionId: string;
  readonly loginId: string;
  readonly credentialsEnc: string;
}

/** The transition event of a change, when the status changed. */
export function transitionEvents(transition: JobTransition | null): NewJobEvent[] {
  return transition ? [{ kind: 'transition', transition }] : [];
}

// The columns a change of a job can touch, with their PostgreSQL types (unnest arrays are typed).
const MUTABLE_COLUMNS = {
  status: 'VARCHAR',
  updated_at: 'BIGINT',
  started_at: 'BIGINT',
  finished_at: 'BIGINT',
  attempt: 'INTEGER',
  max_attempts: 'INTEGER',
  run_at: 'BIGINT',
  lease_owner: 'VARCHAR',
  lease_expires_at: 'BIGINT',
  deadline_at: 'BIGINT',
  cancel_requested_at: 'BIGINT',
  steps: 'TEXT',
  error: 'TEXT',
  result: 'TEXT',
  error_code: 'VARCHAR',
  version: 'INTEGER',
  challenge: 'TEXT',
  challenge_expires_at: 'BIGINT',
} as const satisfies Partial<Record<(typeof JOB_COLUMNS)[number], string>>;
type MutableColumn = keyof typeof MUTABLE_COLUMNS;
const MUTABLE = Object.keys(MUTABLE_COLUMNS) as MutableColumn[];
const MUTABLE_POSITIONS = MUTABLE.map((c) => JOB_COLUMNS.indexOf(c));
const SET_CLAUSE = MUTABLE.map((c) => `${c} = v.${c}`).join(', ');

// PostgreSQL: one array parameter per column, a statement of constant size whatever the batch.
const UPDATE_JOBS_UNNEST = `UPDATE jobs SET ${SET_CLAUSE}
  FROM unnest(${['VARCHAR', ...Object.values(MUTABLE_COLUMNS)].map((t, i) => `CAST($${i + 1} AS ${t}[])`).join(', ')})
    AS v (id, ${MUTABLE.join(', ')})
  WHERE jobs.id = v.id`;

// SQLite: one row a statement, prepared once. In-process, a statement costs no round trip, and a
// multi-row one costs more than it saves: a new SQL text to build and prepare for every batch size,
// and thousands of parameters to bind by name (the SQLite drain's profile: 20% of its time).
const UPDATE_JOB_SQLITE = `UPDATE jobs SET ${MUTABLE.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1`;

const INSERT_JOB = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${placeholders(JOB_COLUMNS.length)})`;

const EVENT_COLUMNS =
  'job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message, steps, lines';
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
  'TEXT',
  'TEXT',
];
/**
 * Event ids are the SSE cursor (`Last-Event-ID`), so they must become visible in id order: a
 * client that saw id 11 must never later find an id 10 committed after it. A sequence alone hands
 * out ids before commit, so two processes' transactions can commit out of order. Taking one
 * transaction-scoped advisory lock before the ids are drawn (the join makes the insert wait for
 * it) serialises the draw-to-commit window: ids are drawn and committed in the same order. SQLite
 * has one writer, so its ids are in commit order already.
 */
const EVENT_ORDER_LOCK = 7_401_442_001;
const INSERT_EVENTS_UNNEST = `WITH commit_order AS (SELECT pg_advisory_xact_lock(${EVENT_ORDER_LOCK}))
  INSERT INTO job_events (${EVENT_COLUMNS})
  SELECT e.* FROM commit_order,
    unnest(${EVENT_COLUMN_TYPES.map((t, i) => `CAST($${i + 1} AS ${t}[])`).join(', ')}) AS e
  RETURNING id, job_id`;
// SQLite: one row a statement (see UPDATE_JOB_SQLITE), without RETURNING (it costs a result row a
// statement): in one write transaction AUTOINCREMENT hands out consecutive ids, so the ids follow
// from the last one.
const INSERT_EVENT_SQLITE = `INSERT INTO job_events (${EVENT_COLUMNS}) VALUES (${placeholders(EVENT_COLUMN_TYPES.length)})`;

function eventValues(job: Job, tenantId: string, e: NewJobEvent): unknown[] {
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
        // Written as the domain gave it: only changes that end an attempt carry its steps.
        t.steps === undefined ? null : JSON.stringify(t.steps),
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
        null,
        null,
      ];
  }
}

/** Lines folded into one row at most: a bound on the row's size. */
export const MAX_LINES_PER_EVENT_ROW = 1_000;
const LINES_COLUMN = EVENT_COLUMN_TYPES.length - 1;

/**
 * The rows of one change's events. Its log lines (a step's lines, written with the change that ends
 * the step) are folded, as JSON (at, level, step, message) in `lines`, into the change's last other
 * event (its transition, or the job's creation), or, in a change without one (step progress), into
 * one `log` row. A no-op refresh records two rows (its claim, its completion with its lines)
 * instead of five. `rowToLogLines` reads every form, and rows written before (a line a row).
 */
function eventRows(job: Job, tenantId: string, events: readonly NewJobEvent[]): unknown[][] {
  const rows = events.filter((e) => e.kind !== 'log').map((e) => eventValues(job, tenantId, e));
  const logs = events.filter((e) => e.kind === 'log');
  if (logs.length === 0) return rows;
  if (rows.length === 0 && logs.length === 1) return [eventValues(job, tenantId, logs[0]!)];
  for (let i = 0; i < logs.length; i += MAX_LINES_PER_EVENT_ROW) {
    const chunk = logs.slice(i, i + MAX_LINES_PER_EVENT_ROW);
    const lines = JSON.stringify(
      chunk.map((l) => ({ at: l.at.getTime(), level: l.level, step: l.step, message: l.message })),
    );
    const host = i === 0 ? rows.at(-1) : undefined;
    if (host) host[LINES_COLUMN] = lines;
    else
      rows.push([
        job.id,
        tenantId,
        job.connectionId,
        'log',
        chunk[0]!.at.getTime(),
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        lines,
      ]);
  }
  return rows;
}

/** The parts of the stored job a write is reconciled with, and its tenant. */
interface StoredRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly status: string;
  readonly attempt: number | string;
  readonly lease_expires_at: number | string | null;
  readonly cancel_requested_at: number | string | null;
  readonly version: number | string;
}

/** What the commit reconciles a write with: the stored job's fence inputs, tenant and version. */
interface Stored {
  tenantId: string;
  state: StoredJobState;
  version: number;
}

/**
 * The jobs table as the engine writes it: the one write path for every job change (`commit`),
 * claims, the lease sweeper's scan and the worker's wake-up time. The rules themselves — which
 * transitions exist, what a fence is, what never goes backwards — come from the domain; this only
 * stores their results. No other code changes a job's status, attempt, lease or cancel request.
 */
export class JobsStore {
  private readonly outbox: WebhookOutbox;

  constructor(private readonly db: Database) {
    this.outbox = new WebhookOutbox(db.kind);
  }

  /**
   * Commits job changes in the caller's transaction: new jobs are inserted (and become their
   * connection's latest); changes of existing
   * ones are applied only where the stored job still has the status and attempt they were computed
   * from (the fence), after merging what others changed meanwhile (a renewed lease, a cancel
   * request: `mergeConcurrentChanges`). Every change's events are recorded with it. Returns, per
   * write, the stored job and its live event, or null when the fence refused it.
   *
   * `locked`: jobs the caller read, locked, earlier in this same transaction (a claim): they are
   * the stored state, so they are not read again.
   */
  async commit(
    tx: SqlExecutor,
    writes: readonly JobWrite[],
    options: { readonly locked?: readonly Job[] } = {},
  ): Promise<Array<CommittedWrite | null>> {
    if (writes.length === 0) return [];
    const locked = new Map((options.locked ?? []).map((j) => [j.id, j]));
    const stored = await this.lockStoredState(
      tx,
      writes.filter((w) => w.before !== null && !locked.has(w.next.id)).map((w) => w.next.id),
    );
    for (const w of writes) {
      const job = locked.get(w.next.id);
      if (job) stored.set(job.id, { tenantId: w.tenantId, state: stateOf(job), version: job.version });
    }
    const results: Array<{ job: Job; tenantId: string; created: boolean; events: readonly NewJobEvent[] } | null> = [];
    const updates: Job[] = [];
    for (const w of writes) {
      if (w.before === null) {
        const created = { ...w.next, version: 1 };
        await tx.execute(INSERT_JOB, jobToValues(created, w.tenantId));
        // The newest job of a connection is what its list shows (UUIDv7 ids sort in creation order).
        await tx.execute(
          'UPDATE connections SET latest_job_id = $1 WHERE id = $2 AND (latest_job_id IS NULL OR latest_job_id < $1)',
          [created.id, created.connectionId],
        );
        results.push({ job: created, tenantId: w.tenantId, created: true, events: w.events });
        continue;
      }
      const row = stored.get(w.next.id);
      if (!row || row.tenantId !== w.tenantId || !fenceHolds(row.state, w.before)) {
        results.push(null);
        continue;
      }
      // The version counts stored changes: the stored one's, whatever the write was computed from.
      const job = { ...mergeConcurrentChanges(row.state, w.next), version: row.version + 1 };
      // A job appears once per batch (the runner chains its own writes), so the next write of the
      // same job in this batch is computed from this one.
      stored.set(job.id, { tenantId: w.tenantId, state: stateOf(job), version: job.version });
      updates.push(job);
      results.push({ job, tenantId: w.tenantId, created: false, events: w.events });
    }
    await this.updateJobs(tx, updates);
    await this.updateConnectionStatuses(tx, updates);
    await this.updateCircuits(
      tx,
      writes.flatMap((w, i) => (w.before?.status === 'processing' && results[i] ? [results[i].job] : [])),
    );
    const written = results.filter((r) => r !== null);
    const lastIds = await this.insertEvents(tx, written);
    await this.outbox.enqueue(
      tx,
      written.map((r) => ({
        job: r.job,
        tenantId: r.tenantId,
        created: r.created,
        transitions: r.events.flatMap((e) => (e.kind === 'transition' ? [e.transition] : [])),
      })),
      // The writers' time (every process reads the database clock), not this machine's: a delivery
      // due "now" must be due by the clock the dispatchers claim with.
      Math.max(0, ...written.map((r) => r.job.updatedAt.getTime())),
    );
    const committed: Array<CommittedWrite | null> = results.map((r) =>
      r === null
        ? null
        : {
            job: r.job,
            change: {
              id: lastIds.get(r.job.id) ?? 0,
              type: r.created ? 'job.created' : 'job.updated',
              tenantId: r.tenantId,
              connectionId: r.job.connectionId,
              job: toJobSummaryWire(r.job),
              // An answered challenge: a worker should resume the job now.
              ...(isParked(r.job) && r.job.challenge === null ? { resumable: true } : {}),
            },
          },
    );
    // Announced in the change's own transaction: delivered at its commit, in commit order, or not at
    // all if it rolls back. (SQLite's single process announces after the commit: JobEventsBus.publish.)
    if (this.db.kind === 'postgres') await notify(tx, changePayloads(committed.flatMap((c) => (c ? [c.change] : []))));
    return committed;
  }

  /** `commit` in its own transaction. */
  commitNow(writes: readonly JobWrite[]): Promise<Array<CommittedWrite | null>> {
    return this.db.transaction((tx) => this.commit(tx, writes));
  }

  /** The fence and merge inputs of the jobs about to be written, locked until the transaction ends. */
  private async lockStoredState(tx: SqlExecutor, ids: readonly string[]): Promise<Map<string, Stored>> {
    const byId = new Map<string, Stored>();
    if (ids.length === 0) return byId;
    const columns = 'id, tenant_id, status, attempt, lease_expires_at, cancel_requested_at, version';
    const unique = [...new Set(ids)];
    let rows: StoredRow[] = [];
    if (this.db.kind === 'postgres') {
      rows = await tx.query<StoredRow>(
        `SELECT ${columns} FROM jobs WHERE id = ANY(CAST($1 AS VARCHAR[])) ORDER BY id FOR UPDATE`,
        [unique],
      );
    } else {
      for (const id of unique)
        rows.push(...(await tx.query<StoredRow>(`SELECT ${columns} FROM jobs WHERE id = $1`, [id])));
    }
    for (const r of rows) {
      byId.set(r.id, {
        tenantId: r.tenant_id,
        state: {
          status: r.status as StoredJobState['status'],
          attempt: Number(r.attempt),
          leaseExpiresAt: dateOrNull(r.lease_expires_at),
          cancelRequestedAt: dateOrNull(r.cancel_requested_at),
        },
        version: Number(r.version),
      });
    }
    return byId;
  }

  private async updateJobs(tx: SqlExecutor, jobs: readonly Job[]): Promise<void> {
    if (jobs.length === 0) return;
    const rows = jobs.map((job) => {
      const all = jobToValues(job, '');
      return [job.id, ...MUTABLE_POSITIONS.map((i) => all[i])];
    });
    if (this.db.kind === 'postgres') {
      await tx.execute(
        UPDATE_JOBS_UNNEST,
        rows[0]!.map((_, c) => rows.map((r) => r[c])),
      );
      return;
    }
    for (const row of rows) await tx.execute(UPDATE_JOB_SQLITE, row);
  }

  /**
   * A finished refresh decides its connection's status (the domain's `connectionStatusAfterRefresh`),
   * unless a newer refresh already did (refresh ids are UUIDv7: creation order), or the credentials
   * were replaced after the attempt started (its verdict is about the old ones).
   */
  private async updateConnectionStatuses(tx: SqlExecutor, jobs: readonly Job[]): Promise<void> {
    const byConnection = new Map<string, { jobId: string; status: string; startedAt: number }>();
    for (const job of jobs) {
      const status = connectionStatusAfterRefresh(job);
      const seen = byConnection.get(job.connectionId);
      if (status === null || (seen && seen.jobId > job.id)) continue;
      byConnection.set(job.connectionId, {
        jobId: job.id,
        status,
        startedAt: (job.startedAt ?? job.createdAt).getTime(),
      });
    }
    if (byConnection.size === 0) return;
    const rows = [...byConnection].map(([id, v]) => [id, v.jobId, v.status, v.startedAt]);
    const fence = `(c.last_refresh_job_id IS NULL OR c.last_refresh_job_id <= v.job_id)
        AND (c.credentials_updated_at IS NULL OR c.credentials_updated_at <= v.started_at)`;
    if (this.db.kind === 'postgres') {
      await tx.execute(
        `UPDATE connections c SET status = v.status, last_refresh_job_id = v.job_id
          FROM unnest(CAST($1 AS VARCHAR[]), CAST($2 AS VARCHAR[]), CAST($3 AS VARCHAR[]), CAST($4 AS BIGINT[]))
            AS v (id, job_id, status, started_at)
          WHERE c.id = v.id AND ${fence}`,
        [0, 1, 2, 3].map((col) => rows.map((r) => r[col])),
      );
      return;
    }
    for (const r of rows) {
      await tx.execute(
        `UPDATE connections AS c SET status = v.status, last_refresh_job_id = v.job_id
          FROM (SELECT $1 AS id, $2 AS job_id, $3 AS status, $4 AS started_at) AS v
          WHERE c.id = v.id AND ${fence}`,
        r,
      );
    }
  }

  /**
   * Attempts that ended tell their institution's circuit breaker (the domain's
   * `circuitAfterOutcome`): the rows are read first without a lock and written (locked, re-read)
   * only when the circuit changes, so the common case — a success on a closed circuit — costs one
   * read and serialises nothing.
   */
  private async updateCircuits(tx: SqlExecutor, ended: readonly Job[]): Promise<void> {
    const outcomes = ended.flatMap((job) => {
      const outcome = job.status === 'processing' ? null : circuitOutcomeOf(job);
      return outcome ? [{ job, outcome }] : [];
    });
    if (outcomes.length === 0) return;
    const connectionIds = [...new Set(outcomes.map((o) => o.job.connectionId))];
    const institutions = new Map(
      (
        await tx.query<{ id: string; institution_id: string }>(
          `SELECT id, institution_id FROM connections WHERE id IN (${placeholders(connectionIds.length)})`,
          connectionIds,
        )
      ).map((r) => [r.id, r.institution_id]),
    );
    const apply = (circuits: Map<string, InstitutionCircuit>) => {
      const next = new Map(circuits);
      for (const { job, outcome } of outcomes) {
        const id = institutions.get(job.connectionId);
        if (id === undefined) continue;
        next.set(id, circuitAfterOutcome(next.get(id) ?? closedCircuit(id), outcome, job.updatedAt.getTime()));
      }
      return next;
    };
    const ids = [...new Set(institutions.values())];
    const seen = await this.loadCircuits(tx, ids, false);
    const changed = [...apply(seen)].filter(([id, c]) => !sameCircuit(seen.get(id) ?? closedCircuit(id), c));
    if (changed.length === 0) return;
    const locked = await this.loadCircuits(
      tx,
      changed.map(([id]) => id),
      true,
    );
    const now = Math.max(...outcomes.map((o) => o.job.updatedAt.getTime()));
    await this.saveCircuits(
      tx,
      [...apply(locked)].filter(([id]) => changed.some(([c]) => c === id)).map(([, c]) => c),
      now,
    );
  }

  /** The stored circuits of these institutions (closed ones may have no row), locked on request (PostgreSQL). */
  async loadCircuits(
    tx: SqlExecutor,
    institutionIds: readonly string[],
    lock: boolean,
  ): Promise<Map<string, InstitutionCircuit>> {
    const byId = new Map<string, InstitutionCircuit>();
    if (institutionIds.length === 0) return byId;
    const ids = [...new Set(institutionIds)].sort();
    const rows = await tx.query<{
      institution_id: string;
      state: string;
      consecutive_failures: number | string;
      opened_at: number | string | null;
      probe_started_at: number | string | null;
    }>(
      `SELECT institution_id, state, consecutive_failures, opened_at, probe_started_at FROM institution_circuits
        WHERE institution_id IN (${placeholders(ids.length)}) ORDER BY institution_id${lock && this.db.kind === 'postgres' ? ' FOR UPDATE' : ''}`,
      ids,
    );
    for (const r of rows)
      byId.set(r.institution_id, {
        institutionId: r.institution_id,
        state: r.state as CircuitState,
        consecutiveFailures: Number(r.consecutive_failures),
        openedAt: r.opened_at === null ? null : Number(r.opened_at),
        probeStartedAt: r.probe_started_at === null ? null : Number(r.probe_started_at),
      });
    return byId;
  }

  /** Stores circuits (insert or update). */
  async saveCircuits(tx: SqlExecutor, circuits: readonly InstitutionCircuit[], now: number): Promise<void> {
    for (const c of circuits) {
      await tx.execute(
        `INSERT INTO institution_circuits (institution_id, state, consecutive_failures, opened_at, probe_started_at, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6)
          ON CONFLICT (institution_id) DO UPDATE SET state = excluded.state,
            consecutive_failures = excluded.consecutive_failures, opened_at = excluded.opened_at,
            probe_started_at = excluded.probe_started_at, updated_at = excluded.updated_at`,
        [c.institutionId, c.state, c.consecutiveFailures, c.openedAt, c.probeStartedAt, now],
      );
    }
  }

  /** Records the events of many jobs in as few multi-row inserts as possible; the last id per job. */
  private async insertEvents(
    tx: SqlExecutor,
    batches: ReadonlyArray<{ job: Job; tenantId: string; events: readonly NewJobEvent[] }>,
  ): Promise<Map<string, number>> {
    const rows: unknown[][] = [];
    for (const { job, tenantId, events } of batches) rows.push(...eventRows(job, tenantId, events));
    const lastIds = new Map<string, number>();
    if (rows.length === 0) return lastIds;
    const note = (inserted: Array<{ id: number | string; job_id: string }>) => {
      for (const r of inserted) lastIds.set(r.job_id, Math.max(lastIds.get(r.job_id) ?? 0, Number(r.id)));
    };
    if (this.db.kind === 'postgres') {
      note(
        await tx.query(
          INSERT_EVENTS_UNNEST,
          EVENT_COLUMN_TYPES.map((_, c) => rows.map((r) => r[c])),
        ),
      );
      return lastIds;
    }
    for (const row of rows) await tx.execute(INSERT_EVENT_SQLITE, row);
    const last = Number((await tx.query<{ id: number }>('SELECT last_insert_rowid() AS id'))[0]?.id);
    note(rows.map((r, i) => ({ id: last - (rows.length - 1 - i), job_id: r[0] as string })));
    return lastIds;
  }

  /**
   * Locks up to `limit` due pending jobs for claiming, in a transaction the caller commits the
   * claims in. Only the oldest pending job of a connection qualifies, and only while none of its
   * jobs is processing, so actions on one connection run one at a time in the order requested.
   * PostgreSQL: `FOR UPDATE SKIP LOCKED` lets many workers claim at once without waiting on each other.
   */
  async lockDueJobs(tx: SqlExecutor, now: number, limit: number): Promise<ClaimedJob[]> {
    // Shaped so both planners walk the due-jobs index in run_at order and stop at LIMIT, checking
    // each candidate with two index probes (no join inside: it would make them scan every due job;
    // the connection's institution and credentials are joined outside, to the rows LIMIT picked, in
    // the same round trip). SKIP LOCKED has no SQLite equivalent (nor need: BEGIN IMMEDIATE admits
    // one writer).
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE OF j SKIP LOCKED' : '';
    const rows = await tx.query<JobRow & { c_institution_id: string; c_login_id: string; c_credentials_enc: string }>(
      `SELECT due.*, c.institution_id AS c_institution_id, c.login_id AS c_login_id,
              c.credentials_enc AS c_credentials_enc
         FROM (SELECT j.* FROM jobs j
                WHERE j.status = 'pending' AND j.run_at <= $1
                  AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending'
                              ORDER BY e.created_at, e.id LIMIT 1)
                  AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')
                ORDER BY j.run_at
                LIMIT $2 ${lock}) due
         JOIN connections c ON c.id = due.connection_id
        ORDER BY due.run_at`,
      [now, limit],
    );
    return rows.map((r) => ({
      job: rowToJob(r),
      tenantId: r.tenant_id,
      institutionId: r.c_institution_id,
      loginId: r.c_login_id,
      credentialsEnc: r.c_credentials_enc,
    }));
  }

  /** Jobs with what a worker needs to reach their institution. */
  private async withConnections(tx: SqlExecutor, rows: readonly JobRow[]): Promise<ClaimedJob[]> {
    if (rows.length === 0) return [];
    const ids = [...new Set(rows.map((r) => r.connection_id))];
    const connections = await tx.query<{
      id: string;
      institution_id: string;
      login_id: string;
      credentials_enc: string;
    }>(
      `SELECT id, institution_id, login_id, credentials_enc FROM connections WHERE id IN (${placeholders(ids.length)})`,
      ids,
    );
    const byId = new Map(connections.map((c) => [c.id, c]));
    return rows.flatMap((r) => {
      const c = byId.get(r.connection_id);
      return c
        ? [
            {
              job: rowToJob(r),
              tenantId: r.tenant_id,
              institutionId: c.institution_id,
              loginId: c.login_id,
              credentialsEnc: c.credentials_enc,
            },
          ]
        : [];
    });
  }

  /**
   * Parked jobs whose challenge was answered (processing, no lease, no challenge), locked for a
   * worker to resume: seeks the processing jobs without a lease through `ix_jobs_lease`.
   */
  async lockResumableJobs(tx: SqlExecutor, limit: number): Promise<ClaimedJob[]> {
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE OF j SKIP LOCKED' : '';
    const rows = await tx.query<JobRow>(
      `SELECT j.* FROM jobs j
        WHERE j.status = 'processing' AND j.lease_expires_at IS NULL AND j.challenge_expires_at IS NULL
        LIMIT $1 ${lock}`,
      [limit],
    );
    return this.withConnections(tx, rows);
  }

  /** Processing jobs whose one-time-code challenge lapsed before `now`, locked for the sweeper. */
  async lockExpiredChallenges(
    tx: SqlExecutor,
    now: number,
    limit: number,
  ): Promise<Array<{ job: Job; tenantId: string }>> {
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await tx.query<JobRow>(
      `SELECT * FROM jobs WHERE status = 'processing' AND challenge_expires_at < $1 LIMIT $2 ${lock}`,
      [now, limit],
    );
    return rows.map((r) => ({ job: rowToJob(r), tenantId: r.tenant_id }));
  }

  /** Processing jobs whose lease ran out or whose deadline passed before `now`, locked for the sweeper. */
  async lockExpiredLeases(tx: SqlExecutor, now: number, limit: number): Promise<Array<{ job: Job; tenantId: string }>> {
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await tx.query<JobRow>(
      `SELECT * FROM jobs WHERE status = 'processing' AND (lease_expires_at < $1 OR deadline_at < $1)
        LIMIT $2 ${lock}`,
      [now, limit],
    );
    return rows.map((r) => ({ job: rowToJob(r), tenantId: r.tenant_id }));
  }

  /** When a cancel of this job was requested, if it was. */
  async findCancelRequest(jobId: string): Promise<Date | null> {
    const rows = await this.db.query<{ cancel_requested_at: number | string | null }>(
      'SELECT cancel_requested_at FROM jobs WHERE id = $1',
      [jobId],
    );
    return dateOrNull(rows[0]?.cancel_requested_at ?? null);
  }

  /**
   * The earliest time a pending job can be claimed: the `run_at` of the oldest pending job of a
   * connection that has nothing processing (the claim's own rule), or null when none can. Jobs
   * queued behind others do not count: they become claimable when a job ends, which wakes workers.
   */
  async nextClaimableAt(): Promise<number | null> {
    const row = (
      await this.db.query<{ next: number | string | null }>(
        `SELECT MIN(j.run_at) AS next FROM jobs j
          WHERE j.status = 'pending'
            AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending'
                        ORDER BY e.created_at, e.id LIMIT 1)
            AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')`,
      )
    )[0];
    return row?.next == null ? null : Number(row.next);
  }
}

function sameCircuit(a: InstitutionCircuit, b: InstitutionCircuit): boolean {
  return (
    a.state === b.state &&
    a.consecutiveFailures === b.consecutiveFailures &&
    a.openedAt === b.openedAt &&
    a.probeStartedAt === b.probeStartedAt
  );
}

function stateOf(job: Job): StoredJobState {
  return {
    status: job.status,
    attempt: job.attempt,
    leaseExpiresAt: job.leaseExpiresAt,
    cancelRequestedAt: job.cancelRequestedAt,
  };
}
