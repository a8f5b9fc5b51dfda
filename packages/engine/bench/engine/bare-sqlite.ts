/**
 * The SQLite baseline: a bare better-sqlite3 loop doing the database work of Jobtrail's worker and
 * nothing else. Per batch (the worker's concurrency): `BEGIN IMMEDIATE`, the claim query of
 * WorkerRepository.lockDueJobs (without `FOR UPDATE`, which SQLite has not) and its connections
 * lookup, each job updated to `processing` (fenced on status and attempt) with its transition
 * event, `COMMIT`; then `BEGIN IMMEDIATE`, each job updated to `success` (fenced) with the same
 * job_events rows Jobtrail recorded for a job (transition with the attempt's steps, folded log lines), `COMMIT`. Prepared
 * statements, one row per statement (the fastest shape on SQLite).
 */
import BetterSqlite3 from 'better-sqlite3';
import type { DrainResult } from './common.js';
import {
  FRESH_REFRESH_STEPS_JSON,
  eventShapeValues,
  succeededRefreshStepsJson,
  type EventShape,
  type EventTemplate,
} from './jobtrail.js';

/** WorkerRepository.lockDueJobs's query, as it is in src/worker/worker.repository.ts (keep in step). */
const LOCK_DUE_JOBS = `SELECT j.* FROM jobs j
        WHERE j.status = 'pending' AND j.run_at <= ?
          AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending' ORDER BY e.created_at, e.id LIMIT 1)
          AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')
        ORDER BY j.run_at
        LIMIT ? `;

const CLAIM = `UPDATE jobs SET status = 'processing', updated_at = ?, started_at = ?, attempt = ?, lease_owner = ?, lease_expires_at = ?, deadline_at = ?, steps = ?, error = NULL
  WHERE id = ? AND tenant_id = ? AND status = 'pending' AND attempt = ?`;
const COMPLETE = `UPDATE jobs SET status = 'success', updated_at = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, steps = ?, result = ?
  WHERE id = ? AND tenant_id = ? AND status = 'processing' AND attempt = ?`;
const INSERT_EVENT = `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message, steps, lines)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

interface DueRow {
  id: string;
  tenant_id: string;
  connection_id: string;
  attempt: number;
}

/** Runs the loop until no job is due; the file must hold only pending jobs that all become due. */
export function bareSqliteDrain(
  file: string,
  jobs: number,
  batch: number,
  template: EventTemplate,
  leaseMs: number,
  deadlineMs: number,
): DrainResult & { eventsPerJob: number } {
  const db = new BetterSqlite3(file);
  try {
    // The pragmas Jobtrail's data source sets (WAL is already on in the file).
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const due = db.prepare<[number, number], DueRow>(LOCK_DUE_JOBS);
    const claim = db.prepare(CLAIM);
    const complete = db.prepare(COMPLETE);
    const insertEvent = db.prepare(INSERT_EVENT);
    const connectionsBySize = new Map<
      number,
      BetterSqlite3.Statement<
        string[],
        { id: string; institution_id: string; login_id: string; credentials_enc: string }
      >
    >();
    const connectionsOf = (n: number) => {
      let stmt = connectionsBySize.get(n);
      if (!stmt) {
        stmt = db.prepare(
          `SELECT id, institution_id, login_id, credentials_enc FROM connections WHERE id IN (${Array.from({ length: n }, () => '?').join(', ')})`,
        );
        connectionsBySize.set(n, stmt);
      }
      return stmt;
    };
    const actor = `bare:${process.pid}`;
    const result = JSON.stringify({ accounts: 0, transactions: 0 });
    const event = (r: DueRow, e: EventShape, at: number) => insertEvent.run(...eventShapeValues(r, e, at, actor));

    let done = 0;
    const t0 = performance.now();
    for (;;) {
      begin.run();
      const now = Date.now();
      const rows = due.all(now, batch);
      if (rows.length === 0) {
        commit.run();
        break;
      }
      const connections = connectionsOf(rows.length).all(...rows.map((r) => r.connection_id));
      if (connections.length !== rows.length) throw new Error('bare loop: a connection is missing');
      for (const r of rows) {
        const changed = claim.run(
          now,
          now,
          r.attempt + 1,
          actor,
          now + leaseMs,
          now + deadlineMs,
          FRESH_REFRESH_STEPS_JSON,
          r.id,
          r.tenant_id,
          r.attempt,
        ).changes;
        if (changed !== 1) throw new Error(`bare loop: the claim of ${r.id} was refused`);
        for (const e of template.claim) event(r, e, now);
      }
      commit.run();

      begin.run();
      const end = Date.now();
      const steps = succeededRefreshStepsJson(new Date(end));
      for (const r of rows) {
        const changed = complete.run(end, end, steps, result, r.id, r.tenant_id, r.attempt + 1).changes;
        if (changed !== 1) throw new Error(`bare loop: the completion of ${r.id} was refused`);
        for (const e of template.completion) event(r, e, end);
      }
      commit.run();
      done += rows.length;
    }
    const seconds = (performance.now() - t0) / 1000;
    const success = (db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE status = 'success'`).get() as { n: number }).n;
    if (done !== jobs || success !== jobs) throw new Error(`bare loop: ${success} jobs succeeded of ${jobs}`);
    const events = (db.prepare('SELECT COUNT(*) AS n FROM job_events').get() as { n: number }).n;
    return { jobs, seconds, secondsFromStart: seconds, eventsPerJob: events / jobs };
  } finally {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
    db.close();
  }
}
