import { Injectable } from '@nestjs/common';
import { toJobSummaryWire, type Job, type JobTransition } from '@jobtrail/domain';
import { Database, type SqlExecutor } from '../database/database.js';
import type { JobRow } from '../database/rows.js';
import type { JobChange } from '../events/job-events.bus.js';
import { rowToJob } from '../jobs/job.mapper.js';
import { JobsRepository, type NewJobEvent } from '../jobs/jobs.repository.js';

/** A job as a worker holds it: with its tenant and what is needed to reach the institution. */
export interface ClaimedJob {
  readonly job: Job;
  readonly tenantId: string;
  readonly institutionId: string;
  readonly loginId: string;
  readonly credentialsEnc: string;
}

/** One change a worker writes: the new job, fenced on what it was, and the events to record. */
export interface JobWrite {
  readonly tenantId: string;
  readonly before: Pick<Job, 'status' | 'attempt'>;
  readonly next: Job;
  readonly events: readonly NewJobEvent[];
}

/**
 * The queue side of the jobs table: claims, lease renewal, fenced writes and the lease sweeper.
 * The status rules themselves come from the domain state machine; this only stores its results.
 */
@Injectable()
export class WorkerRepository {
  constructor(
    private readonly db: Database,
    private readonly jobs: JobsRepository,
  ) {}

  /**
   * Locks up to `limit` due pending jobs for claiming, in a transaction the caller writes the
   * claims in. Only the oldest pending job of a connection qualifies, and only while none of its
   * jobs is processing, so actions on one connection run one at a time in the order requested.
   * PostgreSQL: `FOR UPDATE SKIP LOCKED` lets many workers claim at once without waiting on each other.
   */
  async lockDueJobs(tx: SqlExecutor, now: number, limit: number): Promise<ClaimedJob[]> {
    // Shaped so both planners walk the due-jobs index in run_at order and stop at LIMIT, checking
    // each candidate with two index probes (no join here: it would make them scan every due job).
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE OF j SKIP LOCKED' : '';
    const rows = await tx.query<JobRow>(
      `SELECT j.* FROM jobs j
        WHERE j.status = 'pending' AND j.run_at <= ?
          AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending' ORDER BY e.created_at, e.id LIMIT 1)
          AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')
        ORDER BY j.run_at
        LIMIT ? ${lock}`,
      [now, limit],
    );
    if (rows.length === 0) return [];
    const ids = [...new Set(rows.map((r) => r.connection_id))];
    const connections = await tx.query<{
      id: string;
      institution_id: string;
      login_id: string;
      credentials_enc: string;
    }>(
      `SELECT id, institution_id, login_id, credentials_enc FROM connections WHERE id IN (${ids.map(() => '?').join(', ')})`,
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

  /** Processing jobs whose lease ran out before `now`, locked for the sweeper's transaction. */
  async lockExpiredLeases(tx: SqlExecutor, now: number, limit: number): Promise<Array<{ job: Job; tenantId: string }>> {
    const lock = this.db.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await tx.query<JobRow>(
      `SELECT * FROM jobs WHERE status = 'processing' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ? ${lock}`,
      [now, limit],
    );
    return rows.map((r) => ({ job: rowToJob(r), tenantId: r.tenant_id }));
  }

  /**
   * Writes changes fenced on the status and attempt they were computed from, with their events.
   * Returns, per write, the live event to publish, or null when the fence refused it (the job
   * moved on: the lease was lost, or it was claimed again).
   */
  async writeFenced(tx: SqlExecutor, writes: readonly JobWrite[]): Promise<Array<JobChange | null>> {
    const written = await this.jobs.updateJobsFenced(
      tx,
      writes.map((w) => ({
        tenantId: w.tenantId,
        next: w.next,
        expected: { status: w.before.status, attempt: w.before.attempt },
      })),
    );
    // A job appears once per batch: the runner chains its own writes.
    const applied = writes.map((w) => written.has(w.next.id));
    const lastIds = await this.jobs.insertEventsOfJobs(
      tx,
      writes.filter((_, i) => applied[i]).map((w) => ({ job: w.next, tenantId: w.tenantId, events: w.events })),
    );
    return writes.map((w, i) =>
      applied[i]
        ? {
            id: lastIds.get(w.next.id) ?? 0,
            type: 'job.updated',
            tenantId: w.tenantId,
            connectionId: w.next.connectionId,
            job: toJobSummaryWire(w.next),
          }
        : null,
    );
  }

  /** `writeFenced` in its own transaction. */
  async writeFencedNow(writes: readonly JobWrite[]): Promise<Array<JobChange | null>> {
    return this.db.transaction((tx) => this.writeFenced(tx, writes));
  }

  /**
   * Extends the lease if this worker still holds this attempt. Returns null when the job was lost,
   * else whether (and when) a cancel was requested, which the worker honours at its next step.
   */
  async renewLease(
    job: Job,
    workerId: string,
    leaseExpiresAt: number,
  ): Promise<{ cancelRequestedAt: Date | null } | null> {
    const rows = await this.db.query<{ cancel_requested_at: number | string | null }>(
      `UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND status = 'processing' AND attempt = ? AND lease_owner = ? RETURNING cancel_requested_at`,
      [leaseExpiresAt, job.id, job.attempt, workerId],
    );
    const row = rows[0];
    if (!row) return null;
    return { cancelRequestedAt: row.cancel_requested_at == null ? null : new Date(Number(row.cancel_requested_at)) };
  }

  /** When a cancel of this job was requested, if it was. */
  async findCancelRequest(jobId: string): Promise<Date | null> {
    const row = (
      await this.db.query<{ cancel_requested_at: number | string | null }>(
        'SELECT cancel_requested_at FROM jobs WHERE id = ?',
        [jobId],
      )
    )[0];
    return row?.cancel_requested_at == null ? null : new Date(Number(row.cancel_requested_at));
  }

  /** The earliest `run_at` of a pending job, to sleep until it instead of polling blindly. */
  async nextRunAt(): Promise<number | null> {
    const row = (
      await this.db.query<{ next: number | string | null }>(
        `SELECT MIN(run_at) AS next FROM jobs WHERE status = 'pending'`,
      )
    )[0];
    return row?.next == null ? null : Number(row.next);
  }
}

/** The transition event of a change, when the status changed. */
export function transitionEvents(transition: JobTransition | null): NewJobEvent[] {
  return transition ? [{ kind: 'transition', transition }] : [];
}
