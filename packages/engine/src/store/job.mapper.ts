import {
  isJobAction,
  isJobStatus,
  type Job,
  type JobChallenge,
  type JobStatus,
  type JobStep,
  type JobTransition,
} from '@jobtrail/domain';
import { dateOrNull, millis } from '../database/database.js';
import type { JobEventRow, JobRow } from './rows.js';

/** Stored steps (JSON, dates as ISO strings) back to the domain's. */
function stepsFromJson(json: string): JobStep[] {
  return (JSON.parse(json) as Array<JobStep & { startedAt: string | null; finishedAt: string | null }>).map((s) => ({
    ...s,
    startedAt: s.startedAt === null ? null : new Date(s.startedAt),
    finishedAt: s.finishedAt === null ? null : new Date(s.finishedAt),
  }));
}

/** A stored job back to the pure domain object. */
export function rowToJob(row: JobRow): Job {
  if (!isJobAction(row.action) || !isJobStatus(row.status))
    throw new Error(`job ${row.id} has an unknown action or status`);
  return {
    id: row.id,
    connectionId: row.connection_id,
    action: row.action,
    status: row.status,
    createdAt: new Date(millis(row.created_at)),
    updatedAt: new Date(millis(row.updated_at)),
    startedAt: dateOrNull(row.started_at),
    finishedAt: dateOrNull(row.finished_at),
    attempt: Number(row.attempt),
    maxAttempts: Number(row.max_attempts),
    runAt: new Date(millis(row.run_at)),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: dateOrNull(row.lease_expires_at),
    deadlineAt: dateOrNull(row.deadline_at),
    cancelRequestedAt: dateOrNull(row.cancel_requested_at),
    steps: stepsFromJson(row.steps),
    error: row.error === null ? null : (JSON.parse(row.error) as Job['error']),
    result: row.result === null ? null : (JSON.parse(row.result) as Job['result']),
    retryOf: row.retry_of,
    requestedBy: row.requested_by_id === null ? null : { id: row.requested_by_id, name: row.requested_by_name ?? '' },
    version: Number(row.version),
    challenge: challengeFromJson(row.challenge),
  };
}

function challengeFromJson(json: string | null | undefined): JobChallenge | null {
  if (json == null) return null;
  const c = JSON.parse(json) as Omit<JobChallenge, 'expiresAt'> & { expiresAt: string };
  return { type: c.type, prompt: c.prompt, expiresAt: new Date(c.expiresAt), wrongCodes: Number(c.wrongCodes) };
}

/** Width of the `error_code` column: an institution's own codes are kept as they came, up to this. */
export const ERROR_CODE_LENGTH = 100;

/** The columns of a job, in the order of JOB_COLUMNS. */
export function jobToValues(job: Job, tenantId: string): unknown[] {
  const time = (d: Date | null) => (d === null ? null : d.getTime());
  return [
    job.id,
    tenantId,
    job.connectionId,
    job.action,
    job.status,
    job.createdAt.getTime(),
    job.updatedAt.getTime(),
    time(job.startedAt),
    time(job.finishedAt),
    job.attempt,
    job.maxAttempts,
    job.runAt.getTime(),
    job.leaseOwner,
    time(job.leaseExpiresAt),
    time(job.deadlineAt),
    time(job.cancelRequestedAt),
    JSON.stringify(job.steps),
    job.error === null ? null : JSON.stringify(job.error),
    job.result === null ? null : JSON.stringify(job.result),
    job.retryOf,
    job.requestedBy?.id ?? null,
    job.requestedBy?.name ?? null,
    job.error === null ? null : job.error.code.slice(0, ERROR_CODE_LENGTH),
    job.version,
    job.challenge === null ? null : JSON.stringify(job.challenge),
    time(job.challenge?.expiresAt ?? null),
  ];
}

/** Every column of the jobs table, in the order `jobToValues` gives them. */
export const JOB_COLUMNS = [
  'id',
  'tenant_id',
  'connection_id',
  'action',
  'status',
  'created_at',
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
  'retry_of',
  'requested_by_id',
  'requested_by_name',
  'error_code',
  'version',
  'challenge',
  'challenge_expires_at',
] as const;

/** A stored transition event back to the domain's transition. */
export function rowToTransition(row: JobEventRow): JobTransition {
  return {
    from: row.from_status as JobStatus,
    to: row.to_status as JobStatus,
    at: new Date(millis(row.at)),
    reason: row.reason ?? '',
    actor: row.actor ?? '',
    attempt: Number(row.attempt ?? 0),
    ...(row.steps === null || row.steps === undefined ? {} : { steps: stepsFromJson(row.steps) }),
  };
}

/** A log line as stored: the row it is in and its place there (0 in a one-line row). */
export interface StoredLogLine {
  readonly eventId: number;
  readonly index: number;
  readonly at: Date;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly step: string | null;
  readonly message: string;
}

/**
 * The log lines of an event row: its folded `lines` (any kind), or, on a one-line `log` row, the
 * line of its own columns. Other rows have none.
 */
export function rowToLogLines(row: JobEventRow): StoredLogLine[] {
  const eventId = Number(row.id);
  if (row.lines != null) {
    const lines = JSON.parse(row.lines) as Array<{
      at: number;
      level: StoredLogLine['level'];
      step: string | null;
      message: string;
    }>;
    return lines.map((l, index) => ({
      eventId,
      index,
      at: new Date(l.at),
      level: l.level,
      step: l.step,
      message: l.message,
    }));
  }
  if (row.kind !== 'log') return [];
  return [
    {
      eventId,
      index: 0,
      at: new Date(millis(row.at)),
      level: (row.level ?? 'info') as StoredLogLine['level'],
      step: row.step,
      message: row.message ?? '',
    },
  ];
}
