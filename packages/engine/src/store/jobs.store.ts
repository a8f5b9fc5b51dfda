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
import { notifySql, pendingChangePayloads } from '../bus/notifications.js';
import {
  Database,
  PreparedSql,
  dateOrNull,
  placeholders,
  type SqlExecutor,
  type Transaction,
} from '../database/database.js';
import { JOB_COLUMNS, JOB_COLUMN_TYPES, jobToValues, rowToJob, stepsToJson, type JobColumn } from './job.mapper.js';
import type { JobRow } from './rows.js';
import {
  WebhookOutbox,
  subscriptionsByTenant,
  subscriptionsSql,
  type OutboxChange,
  type Subscription,
  type TenantSubscriptions,
} from '../webhooks/webhook-outbox.js';

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
  /**
   * The job's institution, when the writer holds it (a running attempt, from its claim): a change
   * that ends the attempt then updates the institution's circuit without reading it.
   */
  readonly institutionId?: string;
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
  /**
   * The institution's stored circuit as the claim read it, unlocked (null: none stored, closed);
   * absent where the reader did not join it.
   */
  readonly circuit?: InstitutionCircuit | null;
}

/** How `JobsStore.commit` reads its writes. */
export interface CommitOptions {
  /**
   * Jobs the caller read, locked, earlier in the same transaction (a claim): they are the stored
   * state, so they are not read again.
   */
  readonly locked?: readonly Job[];
}

/** The transition event of a change, when the status changed. */
export function transitionEvents(transition: JobTransition | null): NewJobEvent[] {
  return transition ? [{ kind: 'transition', transition }] : [];
}

// The columns a change of a job can touch.
const MUTABLE = [
  'status',
  'updated_at',
  'started_at',
  'finished_at',
  'attempt',
  'max_attempts',
  'run_at',
  'lease_owner',
  'lease_expires_at',
  'deadline_at',
  'cancel_requested_at',
  'steps',
  'error',
  'result',
  'error_code',
  'version',
  'challenge',
  'challenge_expires_at',
] as const satisfies readonly JobColumn[];
const MUTABLE_POSITIONS = MUTABLE.map((c) => JOB_COLUMNS.indexOf(c));

// SQLite: one row a statement, prepared once. In-process, a statement costs no round trip, and a
// multi-row one costs more than it saves: a new SQL text to build and prepare for every batch size,
// and thousands of parameters to bind by name (the SQLite drain's profile: 20% of its time).
// The id comes last, so every number appears once and in order (bound by position: see `prepare`).
const UPDATE_JOB_SQLITE = `UPDATE jobs SET ${MUTABLE.map((c, i) => `${c} = $${i + 1}`).join(', ')} WHERE id = $${MUTABLE.length + 1}`;

/**
 * SQLite rewrites the entry of every index whose columns an UPDATE sets, whatever the values (a
 * claim or a completion setting all 18 mutable columns rewrote every index of `jobs`). Where the
 * stored values are known, only the columns that change are set: one statement text per set of
 * columns (a handful: claim, step progress, completion...), prepared once each.
 */
const updateJobSqliteTexts = new Map<number, string>();
function updateJobSqlite(row: readonly unknown[], before: readonly unknown[] | null): [string, unknown[]] {
  if (before === null) return [UPDATE_JOB_SQLITE, [...row]];
  // One bit a changed column: MUTABLE's 18 columns fit an int.
  let mask = 0;
  const values: unknown[] = [];
  for (let c = 0; c < MUTABLE.length; c++)
    if (row[c] !== before[c]) {
      mask |= 1 << c;
      values.push(row[c]);
    }
  // Nothing changed is not a write the domain makes (the version always moves): then set them all.
  if (mask === 0) return [UPDATE_JOB_SQLITE, [...row]];
  values.push(row[MUTABLE.length]);
  let sql = updateJobSqliteTexts.get(mask);
  if (sql === undefined) {
    const set = MUTABLE.filter((_, c) => (mask & (1 << c)) !== 0);
    sql = `UPDATE jobs SET ${set.map((c, i) => `${c} = $${i + 1}`).join(', ')} WHERE id = $${set.length + 1}`;
    updateJobSqliteTexts.set(mask, sql);
  }
  return [sql, values];
}

/**
 * The stored job itself, when the commit knows it exactly: the job this batch last wrote or the
 * claim read (locked), or the write's `before` when it is a whole job of the stored version. The
 * version counts every stored change (all of them go through `commit`), so an equal version means
 * equal columns. Otherwise null: every mutable column is set.
 */
function storedRowOf(known: Job | undefined, before: JobFence | null, version: number): Job | null {
  if (known !== undefined && known.version === version) return known;
  if (before !== null && 'version' in before && 'steps' in before && (before as Job).version === version)
    return before as Job;
  return null;
}

const INSERT_JOB_SQLITE = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${placeholders(JOB_COLUMNS.length)})`;

/** Every column of a job, read from alias `j` (a prepared statement names its columns: see PreparedSql). */
const JOB_SELECT = JOB_COLUMNS.map((c) => `j.${c}`).join(', ');

/** `unnest` of typed array parameters numbered from `first`: a statement of one size whatever the batch. */
function unnest(types: readonly string[], first: number): string {
  return `unnest(${types.map((t, i) => `CAST($${first + i} AS ${t}[])`).join(', ')})`;
}

/**
 * What one commit does to its jobs' connections, one row a connection: the newest job created on it
 * (it becomes the connection's latest), and the refresh whose end decides its status.
 */
interface ConnectionChange {
  readonly id: string;
  readonly latestJobId: string | null;
  readonly refreshJobId: string | null;
  readonly status: string | null;
  readonly startedAt: number | null;
}
const CONNECTION_CHANGE_TYPES = ['VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'BIGINT'];
/**
 * A connection's latest job only moves forward (UUIDv7 ids sort in creation order); a refresh
 * decides its status unless a newer refresh already did, or its credentials were replaced after the
 * attempt started (its verdict is about the old ones). One UPDATE for both, so a commit that
 * creates a job on a connection and ends another there writes the row once.
 */
const LATEST_MOVES = 'v.latest_job_id IS NOT NULL AND (c.latest_job_id IS NULL OR c.latest_job_id < v.latest_job_id)';
const REFRESH_DECIDES = `v.refresh_job_id IS NOT NULL
  AND (c.last_refresh_job_id IS NULL OR c.last_refresh_job_id <= v.refresh_job_id)
  AND (c.credentials_updated_at IS NULL OR c.credentials_updated_at <= v.started_at)`;
const CONNECTION_SET = `latest_job_id = CASE WHEN ${LATEST_MOVES} THEN v.latest_job_id ELSE c.latest_job_id END,
  status = CASE WHEN ${REFRESH_DECIDES} THEN v.status ELSE c.status END,
  last_refresh_job_id = CASE WHEN ${REFRESH_DECIDES} THEN v.refresh_job_id ELSE c.last_refresh_job_id END`;
const CONNECTION_WHERE = `c.id = v.id AND ((${LATEST_MOVES}) OR (${REFRESH_DECIDES}))`;
const CONNECTION_VALUES_SQLITE =
  'FROM (SELECT $1 AS id, $2 AS latest_job_id, $3 AS refresh_job_id, $4 AS status, $5 AS started_at) AS v';
const UPDATE_CONNECTION_SQLITE = `UPDATE connections AS c SET ${CONNECTION_SET} ${CONNECTION_VALUES_SQLITE} WHERE ${CONNECTION_WHERE}`;
// SQLite rewrites the entries of every index whose columns a statement sets, whatever the values:
// a change that only moves the latest job, or only ends a refresh, sets only its own columns (a
// refresh's end then leaves the latest-job index alone).
const UPDATE_CONNECTION_LATEST_SQLITE = `UPDATE connections AS c SET latest_job_id = v.latest_job_id ${CONNECTION_VALUES_SQLITE}
  WHERE c.id = v.id AND ${LATEST_MOVES}`;
const UPDATE_CONNECTION_REFRESH_SQLITE = `UPDATE connections AS c SET status = v.status, last_refresh_job_id = v.refresh_job_id
  ${CONNECTION_VALUES_SQLITE} WHERE c.id = v.id AND ${REFRESH_DECIDES}`;

/** The rows one commit writes, computed before any is written. */
interface CommitRows {
  /** New jobs, JOB_COLUMNS order. */
  readonly creates: unknown[][];
  /** Changed jobs: MUTABLE order, then the id. */
  readonly updates: unknown[][];
  /**
   * SQLite: each changed job's values as stored before the change (MUTABLE order), where the
   * commit knows them exactly; null where it does not. See `updateJobSqlite`.
   */
  readonly storedBefore: ReadonlyArray<readonly unknown[] | null>;
  readonly connections: readonly ConnectionChange[];
  /** Tenants whose webhook subscriptions the outbox needs. */
  readonly subscriberTenants: readonly string[];
}

/**
 * PostgreSQL: a commit's job and connection rows, and the read (and lock) of the subscriptions its
 * events go to, in one statement (one round trip instead of four). Only the parts a commit needs
 * are in it; each combination's text is built once. The events follow in a second statement
 * (`INSERT_EVENTS_AND_NOTIFY`): their order lock must be taken after every row lock of the
 * transaction (see EVENT_ORDER_LOCK), and in one statement PostgreSQL runs the CTEs the main query
 * reads before the others.
 */
function postgresRowsSql(parts: { creates: boolean; updates: boolean; connections: boolean; subscriptions: boolean }) {
  const ctes: string[] = [];
  let next = 1;
  const take = (types: readonly string[]) => {
    const sql = unnest(types, next);
    next += types.length;
    return sql;
  };
  if (parts.creates)
    ctes.push(`new_jobs AS (INSERT INTO jobs (${JOB_COLUMNS.join(', ')})
      SELECT * FROM ${take(JOB_COLUMNS.map((c) => JOB_COLUMN_TYPES[c]))} RETURNING 1)`);
  if (parts.updates)
    ctes.push(`changed_jobs AS (UPDATE jobs SET ${MUTABLE.map((c) => `${c} = v.${c}`).join(', ')}
      FROM ${take([...MUTABLE.map((c) => JOB_COLUMN_TYPES[c]), 'VARCHAR'])} AS v (${MUTABLE.join(', ')}, id)
      WHERE jobs.id = v.id RETURNING 1)`);
  if (parts.connections)
    ctes.push(`changed_connections AS (UPDATE connections c SET ${CONNECTION_SET}
      FROM ${take(CONNECTION_CHANGE_TYPES)} AS v (id, latest_job_id, refresh_job_id, status, started_at)
      WHERE ${CONNECTION_WHERE} RETURNING 1)`);
  const main = parts.subscriptions
    ? subscriptionsSql(next)
    : 'SELECT NULL AS id, NULL AS tenant_id, NULL AS events WHERE FALSE';
  return ctes.length === 0 ? main : `WITH ${ctes.join(',\n')}\n${main}`;
}
const postgresRowsStatements = new Map<string, PreparedSql>();

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
const INSERT_EVENTS_AND_NOTIFY =
  new PreparedSql(`WITH commit_order AS (SELECT pg_advisory_xact_lock(${EVENT_ORDER_LOCK})),
  new_events AS (INSERT INTO job_events (${EVENT_COLUMNS})
    SELECT e.* FROM commit_order, ${unnest(EVENT_COLUMN_TYPES, 1)} AS e
    RETURNING id, job_id),
  last_ids AS (SELECT job_id, max(id) AS id FROM new_events GROUP BY job_id)
  SELECT job_id, id FROM last_ids
  UNION ALL SELECT NULL, count(*) FROM (${notifySql(EVENT_COLUMN_TYPES.length + 1, 'last_ids')}) notified`);
const NOTIFY_ONLY = new PreparedSql(
  notifySql(1, '(SELECT CAST(NULL AS VARCHAR) AS job_id, CAST(NULL AS BIGINT) AS id WHERE FALSE)'),
);
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
        t.steps === undefined ? null : stepsToJson(t.steps),
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

/**
 * Log lines as stored in `lines`: what `JSON.stringify` gives for `{ at, level, step, message }`
 * each (`at` in epoch milliseconds), written by hand (a no-op refresh folds three lines a job: the
 * generic serialiser was a tenth of the SQLite commit's JavaScript).
 */
export function logLinesJson(lines: ReadonlyArray<Extract<NewJobEvent, { kind: 'log' }>>): string {
  let json = '[';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const at = l.at.getTime();
    json += `${i === 0 ? '' : ','}{"at":${Number.isFinite(at) ? at : 'null'},"level":${JSON.stringify(l.level)},"step":${l.step === null ? 'null' : JSON.stringify(l.step)},"message":${JSON.stringify(l.message)}}`;
  }
  return `${json}]`;
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
    const lines = logLinesJson(chunk);
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

const STORED_COLUMNS = 'id, tenant_id, status, attempt, lease_expires_at, cancel_requested_at, version';
const LOCK_STORED_STATE = new PreparedSql(
  `SELECT ${STORED_COLUMNS} FROM jobs WHERE id = ANY(CAST($1 AS VARCHAR[])) ORDER BY id FOR UPDATE`,
);

/** What the commit reconciles a write with: the stored job's fence inputs, tenant and version. */
interface Stored {
  tenantId: string;
  state: StoredJobState;
  version: number;
}

// The claim's read. Shaped so both planners walk the due-jobs index in run_at order and stop at
// LIMIT, checking each candidate with two index probes (no join inside: it would make them scan
// every due job; the connection's institution, credentials and circuit are joined outside, to the
// rows LIMIT picked, in the same round trip). SKIP LOCKED has no SQLite equivalent (nor need:
// BEGIN IMMEDIATE admits one writer).
const CIRCUIT_COLUMNS = 'institution_id, state, consecutive_failures, opened_at, probe_started_at';
const lockDueJobsSql = (lock: string) => `SELECT due.*, c.institution_id AS c_institution_id, c.login_id AS c_login_id,
       c.credentials_enc AS c_credentials_enc,
       ${CIRCUIT_COLUMNS.split(', ')
         .map((col) => `ic.${col} AS ic_${col}`)
         .join(', ')}
  FROM (SELECT ${JOB_SELECT} FROM jobs j
         WHERE j.status = 'pending' AND j.run_at <= $1
           AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending'
                       ORDER BY e.created_at, e.id LIMIT 1)
           AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')
         ORDER BY j.run_at
         LIMIT $2 ${lock}) due
  JOIN connections c ON c.id = due.connection_id
  LEFT JOIN institution_circuits ic ON ic.institution_id = c.institution_id
 ORDER BY due.run_at`;
const LOCK_DUE_JOBS_POSTGRES = new PreparedSql(lockDueJobsSql('FOR UPDATE OF j SKIP LOCKED'));
const LOCK_DUE_JOBS_SQLITE = lockDueJobsSql('');
const lockResumableJobsSql = (lock: string) => `SELECT ${JOB_SELECT} FROM jobs j
  WHERE j.status = 'processing' AND j.lease_expires_at IS NULL AND j.challenge_expires_at IS NULL
  LIMIT $1 ${lock}`;
const LOCK_RESUMABLE_JOBS_POSTGRES = new PreparedSql(lockResumableJobsSql('FOR UPDATE OF j SKIP LOCKED'));
const LOCK_RESUMABLE_JOBS_SQLITE = lockResumableJobsSql('');
const NEXT_CLAIMABLE_AT = new PreparedSql(`SELECT MIN(j.run_at) AS next FROM jobs j
  WHERE j.status = 'pending'
    AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending'
                ORDER BY e.created_at, e.id LIMIT 1)
    AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')`);
const READ_CIRCUITS = new PreparedSql(
  `SELECT ${CIRCUIT_COLUMNS} FROM institution_circuits WHERE institution_id = ANY(CAST($1 AS VARCHAR[])) ORDER BY institution_id`,
);
const LOCK_CIRCUITS = new PreparedSql(`${READ_CIRCUITS.text} FOR UPDATE`);
const INSTITUTIONS_OF_CONNECTIONS = new PreparedSql(
  'SELECT id, institution_id FROM connections WHERE id = ANY(CAST($1 AS VARCHAR[]))',
);

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
   * `last`: the commit is the last step of `tx`, and its last statement (the events and their
   * notifications) carries the COMMIT on PostgreSQL (`Transaction.queryAndCommit`): a round trip
   * less. The caller runs nothing in `tx` after it. On SQLite the transaction commits when it
   * returns, as ever.
   */
  commit(
    tx: Transaction,
    writes: readonly JobWrite[],
    options: CommitOptions & { readonly last: true },
  ): Promise<Array<CommittedWrite | null>>;
  commit(tx: SqlExecutor, writes: readonly JobWrite[], options?: CommitOptions): Promise<Array<CommittedWrite | null>>;
  async commit(
    tx: SqlExecutor | Transaction,
    writes: readonly JobWrite[],
    options: CommitOptions & { readonly last?: boolean } = {},
  ): Promise<Array<CommittedWrite | null>> {
    const last = options.last === true ? (tx as Transaction) : null;
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
    // SQLite: the stored row of each updated job, when known exactly (see `updateJobSqlite`).
    const sqlite = this.db.kind === 'sqlite';
    const exact = new Map<string, Job>(sqlite ? locked : []);
    const storedBefore: Array<Job | null> = [];
    for (const w of writes) {
      if (w.before === null) {
        results.push({ job: { ...w.next, version: 1 }, tenantId: w.tenantId, created: true, events: w.events });
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
      if (sqlite) {
        storedBefore.push(storedRowOf(exact.get(job.id), w.before, row.version));
        exact.set(job.id, job);
      }
      updates.push(job);
      results.push({ job, tenantId: w.tenantId, created: false, events: w.events });
    }
    const written = results.filter((r) => r !== null);
    const outboxChanges: OutboxChange[] = written.map((r) => ({
      job: r.job,
      tenantId: r.tenantId,
      created: r.created,
      transitions: r.events.flatMap((e) => (e.kind === 'transition' ? [e.transition] : [])),
    }));
    const created = written.filter((r) => r.created);
    const rows: CommitRows = {
      creates: created.map((r) => jobToValues(r.job, r.tenantId)),
      updates: updates.map((job) => {
        const all = jobToValues(job, '');
        const row = MUTABLE_POSITIONS.map((i) => all[i]);
        row.push(job.id);
        return row;
      }),
      storedBefore: storedBefore.map((job) => {
        if (job === null) return null;
        const all = jobToValues(job, '');
        return MUTABLE_POSITIONS.map((i) => all[i]);
      }),
      connections: connectionChanges(
        created.map((r) => r.job),
        updates,
      ),
      subscriberTenants: WebhookOutbox.tenantsToLookUp(outboxChanges),
    };
    const subscriptions =
      this.db.kind === 'postgres' ? await this.writeRowsPostgres(tx, rows) : await this.writeRowsSqlite(tx, rows);
    await this.updateCircuits(
      tx,
      writes.flatMap((w, i) =>
        w.before?.status === 'processing' && results[i]
          ? [{ job: results[i].job, institutionId: w.institutionId }]
          : [],
      ),
    );
    // The writers' time (every process reads the database clock), not this machine's: a delivery
    // due "now" must be due by the clock the dispatchers claim with.
    const now = Math.max(0, ...written.map((r) => r.job.updatedAt.getTime()));
    await this.outbox.enqueue(tx, outboxChanges, subscriptions, now);
    const changeOf = (r: (typeof written)[number], id: number): JobChange => ({
      id,
      type: r.created ? 'job.created' : 'job.updated',
      tenantId: r.tenantId,
      connectionId: r.job.connectionId,
      job: toJobSummaryWire(r.job),
      // An answered challenge: a worker should resume the job now.
      ...(isParked(r.job) && r.job.challenge === null ? { resumable: true } : {}),
    });
    const events: unknown[][] = [];
    for (const r of written) events.push(...eventRows(r.job, r.tenantId, r.events));
    // Announced in the change's own transaction: delivered at its commit, in commit order, or not at
    // all if it rolls back. (SQLite's single process announces after the commit: JobEventsBus.publish.)
    const lastIds =
      this.db.kind === 'postgres'
        ? await this.insertEventsAndNotify(
            tx,
            events,
            written.map((r) => changeOf(r, 0)),
            last,
          )
        : await this.insertEventsSqlite(tx, events);
    return results.map((r) => (r === null ? null : { job: r.job, change: changeOf(r, lastIds.get(r.job.id) ?? 0) }));
  }

  /** `commit` in its own transaction. */
  commitNow(writes: readonly JobWrite[]): Promise<Array<CommittedWrite | null>> {
    return this.db.transaction((tx) => this.commit(tx, writes, { last: true }));
  }

  /** The fence and merge inputs of the jobs about to be written, locked until the transaction ends. */
  private async lockStoredState(tx: SqlExecutor, ids: readonly string[]): Promise<Map<string, Stored>> {
    const byId = new Map<string, Stored>();
    if (ids.length === 0) return byId;
    const unique = [...new Set(ids)];
    let rows: StoredRow[] = [];
    if (this.db.kind === 'postgres') {
      rows = await tx.query<StoredRow>(LOCK_STORED_STATE, [unique]);
    } else {
      for (const id of unique)
        rows.push(...(await tx.query<StoredRow>(`SELECT ${STORED_COLUMNS} FROM jobs WHERE id = $1`, [id])));
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

  /** PostgreSQL: the commit's job and connection rows in one statement; the subscriptions it read. */
  private async writeRowsPostgres(tx: SqlExecutor, rows: CommitRows): Promise<TenantSubscriptions> {
    const parts = {
      creates: rows.creates.length > 0,
      updates: rows.updates.length > 0,
      connections: rows.connections.length > 0,
      subscriptions: rows.subscriberTenants.length > 0,
    };
    if (!parts.creates && !parts.updates && !parts.subscriptions) return new Map();
    const key = JSON.stringify(parts);
    let sql = postgresRowsStatements.get(key);
    if (sql === undefined) postgresRowsStatements.set(key, (sql = new PreparedSql(postgresRowsSql(parts))));
    const columns = (list: readonly unknown[][]) =>
      list.length === 0 ? [] : list[0]!.map((_, c) => list.map((r) => r[c]));
    const params: unknown[] = [...columns(rows.creates), ...columns(rows.updates)];
    if (parts.connections)
      params.push(
        rows.connections.map((c) => c.id),
        rows.connections.map((c) => c.latestJobId),
        rows.connections.map((c) => c.refreshJobId),
        rows.connections.map((c) => c.status),
        rows.connections.map((c) => c.startedAt),
      );
    if (parts.subscriptions) params.push(rows.subscriberTenants);
    return subscriptionsByTenant(await tx.query<Subscription>(sql, params));
  }

  /** SQLite: one prepared statement a row (see UPDATE_JOB_SQLITE); the subscriptions of the tenants. */
  private async writeRowsSqlite(tx: SqlExecutor, rows: CommitRows): Promise<TenantSubscriptions> {
    for (const row of rows.creates) await tx.execute(INSERT_JOB_SQLITE, row);
    for (let i = 0; i < rows.updates.length; i++)
      await tx.execute(...updateJobSqlite(rows.updates[i]!, rows.storedBefore[i] ?? null));
    for (const c of rows.connections)
      await tx.execute(
        c.refreshJobId === null
          ? UPDATE_CONNECTION_LATEST_SQLITE
          : c.latestJobId === null
            ? UPDATE_CONNECTION_REFRESH_SQLITE
            : UPDATE_CONNECTION_SQLITE,
        [c.id, c.latestJobId, c.refreshJobId, c.status, c.startedAt],
      );
    return this.outbox.subscriptionsOf(tx, rows.subscriberTenants);
  }

  /**
   * Attempts that ended tell their institution's circuit breaker (the domain's
   * `circuitAfterOutcome`): the rows are read first without a lock and written (locked, re-read)
   * only when the circuit changes, so the common case — a success on a closed circuit — costs one
   * read and serialises nothing.
   */
  private async updateCircuits(
    tx: SqlExecutor,
    ended: ReadonlyArray<{ job: Job; institutionId: string | undefined }>,
  ): Promise<void> {
    const outcomes = ended.flatMap(({ job, institutionId }) => {
      const outcome = job.status === 'processing' ? null : circuitOutcomeOf(job);
      return outcome ? [{ job, outcome, institutionId }] : [];
    });
    if (outcomes.length === 0) return;
    // A connection's institution never changes: the writer's word for it is as good as a read.
    const institutions = new Map<string, string>();
    for (const o of outcomes) if (o.institutionId !== undefined) institutions.set(o.job.connectionId, o.institutionId);
    const connectionIds = [
      ...new Set(outcomes.filter((o) => o.institutionId === undefined).map((o) => o.job.connectionId)),
    ];
    if (connectionIds.length > 0)
      for (const r of this.db.kind === 'postgres'
        ? await tx.query<{ id: string; institution_id: string }>(INSTITUTIONS_OF_CONNECTIONS, [connectionIds])
        : await tx.query<{ id: string; institution_id: string }>(
            `SELECT id, institution_id FROM connections WHERE id IN (${placeholders(connectionIds.length)})`,
            connectionIds,
          ))
        institutions.set(r.id, r.institution_id);
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
    const rows =
      this.db.kind === 'postgres'
        ? await tx.query<CircuitRow>(lock ? LOCK_CIRCUITS : READ_CIRCUITS, [ids])
        : await tx.query<CircuitRow>(
            `SELECT ${CIRCUIT_COLUMNS} FROM institution_circuits
              WHERE institution_id IN (${placeholders(ids.length)}) ORDER BY institution_id`,
            ids,
          );
    for (const r of rows) byId.set(r.institution_id, rowToCircuit(r));
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

  /**
   * PostgreSQL: records the events and announces the changes (ids to be drawn: the newest event of
   * each job) in one statement; the last id per job.
   */
  private async insertEventsAndNotify(
    tx: SqlExecutor,
    events: readonly unknown[][],
    changes: readonly JobChange[],
    last: Transaction | null,
  ): Promise<Map<string, number>> {
    const lastIds = new Map<string, number>();
    const run = <R>(sql: PreparedSql, params: readonly unknown[]) =>
      last ? last.queryAndCommit<R>(sql, params) : tx.query<R>(sql, params);
    if (changes.length === 0) return lastIds;
    const pending = pendingChangePayloads(changes);
    const notifyParams = [pending.jobIds, pending.suffixes, pending.chunks];
    if (events.length === 0) {
      // Nothing to order: no event ids drawn, so no order lock.
      await run(NOTIFY_ONLY, notifyParams);
      return lastIds;
    }
    const rows = await run<{ job_id: string | null; id: number | string }>(INSERT_EVENTS_AND_NOTIFY, [
      ...EVENT_COLUMN_TYPES.map((_, c) => events.map((r) => r[c])),
      ...notifyParams,
    ]);
    for (const r of rows) if (r.job_id !== null) lastIds.set(r.job_id, Number(r.id));
    return lastIds;
  }

  /** SQLite: records the events, one prepared row a statement; the last id per job. */
  private async insertEventsSqlite(tx: SqlExecutor, rows: readonly unknown[][]): Promise<Map<string, number>> {
    const lastIds = new Map<string, number>();
    if (rows.length === 0) return lastIds;
    for (const row of rows) await tx.execute(INSERT_EVENT_SQLITE, row);
    // In one write transaction AUTOINCREMENT hands out consecutive ids: the others follow from the last.
    const last = Number((await tx.query<{ id: number }>('SELECT last_insert_rowid() AS id'))[0]?.id);
    rows.forEach((r, i) => lastIds.set(r[0] as string, last - (rows.length - 1 - i)));
    return lastIds;
  }

  /**
   * Locks up to `limit` due pending jobs for claiming, in a transaction the caller commits the
   * claims in. Only the oldest pending job of a connection qualifies, and only while none of its
   * jobs is processing, so actions on one connection run one at a time in the order requested.
   * PostgreSQL: `FOR UPDATE SKIP LOCKED` lets many workers claim at once without waiting on each other.
   */
  async lockDueJobs(tx: SqlExecutor, now: number, limit: number): Promise<ClaimedJob[]> {
    // See lockDueJobsSql.
    const rows = await tx.query<
      JobRow & { c_institution_id: string; c_login_id: string; c_credentials_enc: string } & {
        [K in keyof CircuitRow as `ic_${K}`]: CircuitRow[K] | null;
      }
    >(this.db.kind === 'postgres' ? LOCK_DUE_JOBS_POSTGRES : LOCK_DUE_JOBS_SQLITE, [now, limit]);
    return rows.map((r) => ({
      job: rowToJob(r),
      tenantId: r.tenant_id,
      institutionId: r.c_institution_id,
      loginId: r.c_login_id,
      credentialsEnc: r.c_credentials_enc,
      circuit:
        r.ic_institution_id === null
          ? null
          : rowToCircuit({
              institution_id: r.ic_institution_id,
              state: r.ic_state!,
              consecutive_failures: r.ic_consecutive_failures!,
              opened_at: r.ic_opened_at,
              probe_started_at: r.ic_probe_started_at,
            }),
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
    const rows = await tx.query<JobRow>(
      this.db.kind === 'postgres' ? LOCK_RESUMABLE_JOBS_POSTGRES : LOCK_RESUMABLE_JOBS_SQLITE,
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
      `SELECT ${JOB_SELECT} FROM jobs j WHERE j.status = 'processing' AND j.challenge_expires_at < $1 LIMIT $2 ${lock}`,
      [now, limit],
    );
    return rows.map((r) => ({ job: rowToJob(r), tenantId: r.tenant_id }));
  }

  /** Processing jobs whose lease ran out or whose deadline passed before `now`, locked for the sweeper. */
  async lockExpiredLeases(tx: SqlExecutor, now: number, limit: number): Promise<Array<{ job: Job; tenantId: string }>> {
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await tx.query<JobRow>(
      `SELECT ${JOB_SELECT} FROM jobs j WHERE j.status = 'processing' AND (j.lease_expires_at < $1 OR j.deadline_at < $1)
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
    const row = (await this.db.query<{ next: number | string | null }>(NEXT_CLAIMABLE_AT))[0];
    return row?.next == null ? null : Number(row.next);
  }
}

/** A stored circuit row. */
interface CircuitRow {
  institution_id: string;
  state: string;
  consecutive_failures: number | string;
  opened_at: number | string | null;
  probe_started_at: number | string | null;
}

function rowToCircuit(r: CircuitRow): InstitutionCircuit {
  return {
    institutionId: r.institution_id,
    state: r.state as CircuitState,
    consecutiveFailures: Number(r.consecutive_failures),
    openedAt: r.opened_at === null ? null : Number(r.opened_at),
    probeStartedAt: r.probe_started_at === null ? null : Number(r.probe_started_at),
  };
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

/**
 * The connection rows of a commit: the newest job created on each connection, and the newest
 * ended refresh that decides its status (the domain's `connectionStatusAfterRefresh`; refresh ids
 * are UUIDv7: creation order).
 */
function connectionChanges(created: readonly Job[], updated: readonly Job[]): ConnectionChange[] {
  const byId = new Map<string, ConnectionChange>();
  const get = (id: string) =>
    byId.get(id) ?? { id, latestJobId: null, refreshJobId: null, status: null, startedAt: null };
  for (const job of created) {
    const c = get(job.connectionId);
    if (c.latestJobId === null || c.latestJobId < job.id) byId.set(c.id, { ...c, latestJobId: job.id });
  }
  for (const job of updated) {
    const status = connectionStatusAfterRefresh(job);
    if (status === null) continue;
    const c = get(job.connectionId);
    if (c.refreshJobId !== null && c.refreshJobId > job.id) continue;
    byId.set(c.id, { ...c, refreshJobId: job.id, status, startedAt: (job.startedAt ?? job.createdAt).getTime() });
  }
  return [...byId.values()];
}
