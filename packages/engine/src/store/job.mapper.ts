import {
  isJobAction,
  isJobStatus,
  toIso,
  type Job,
  type JobChallenge,
  type JobStatus,
  type JobStep,
  type JobSummary,
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

/**
 * A stored job as a summary: every field but the steps and the result, in one object literal, so V8
 * keeps it a plain object with a fixed shape. (An accessor in the literal, as `rowToJob` needs for
 * its lazy steps, turns it into a dictionary: a history page's mapping and wire mapping took 2.5 µs
 * a row that way, 1 µs this way; issue 13.)
 */
export function rowToJobSummary(row: JobRow): JobSummary {
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
    error: row.error === null ? null : (JSON.parse(row.error) as Job['error']),
    retryOf: row.retry_of,
    requestedBy: row.requested_by_id === null ? null : { id: row.requested_by_id, name: row.requested_by_name ?? '' },
    version: Number(row.version),
    challenge: challengeFromJson(row.challenge),
  };
}

/** A stored job back to the pure domain object. */
export function rowToJob(row: JobRow): Job {
  let steps: JobStep[] | undefined;
  // Parsed on first read: the claim, lists and live summaries never read the steps, and parsing
  // them (JSON, then a Date per time) was a fifth of a history page's work (issue 13).
  return Object.defineProperties(rowToJobSummary(row) as Job, {
    steps: { enumerable: true, configurable: true, get: () => (steps ??= stepsFromJson(row.steps)) },
    result: {
      enumerable: true,
      configurable: true,
      writable: true,
      value: row.result === null ? null : (JSON.parse(row.result) as Job['result']),
    },
  });
}

function challengeFromJson(json: string | null | undefined): JobChallenge | null {
  if (json == null) return null;
  const c = JSON.parse(json) as Omit<JobChallenge, 'expiresAt'> & { expiresAt: string };
  return { type: c.type, prompt: c.prompt, expiresAt: new Date(c.expiresAt), wrongCodes: Number(c.wrongCodes) };
}

/** A time as JSON writes it (`Date.prototype.toJSON`: null for an invalid date). */
function timeJson(d: Date | null): string {
  if (d === null || !Number.isFinite(d.getTime())) return 'null';
  return `"${toIso(d)}"`;
}

const stepsJsonOf = new WeakMap<readonly JobStep[], string>();

/**
 * The stored form of a job's steps: what `JSON.stringify` gives (times as ISO strings), built once
 * per steps array. The domain never modifies a steps array, and a change that ends an attempt
 * stores the same one twice (the job's, its transition's). Written by hand because
 * `JSON.stringify` leaves its fast path on every `Date` (`toJSON`): it was the SQLite drain's
 * largest JavaScript cost (issue 13).
 */
export function stepsToJson(steps: readonly JobStep[]): string {
  let json = stepsJsonOf.get(steps);
  if (json === undefined) {
    json = `[${steps
      .map(
        (s) =>
          `{"name":${JSON.stringify(s.name)},"status":${JSON.stringify(s.status)},"startedAt":${timeJson(s.startedAt)},"finishedAt":${timeJson(s.finishedAt)},"error":${s.error === null ? 'null' : JSON.stringify(s.error)}}`,
      )
      .join(',')}]`;
    stepsJsonOf.set(steps, json);
  }
  return json;
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
    stepsToJson(job.steps),
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

/**
 * Every column of the jobs table, in the order `jobToValues` gives them, with its PostgreSQL type
 * (the store's multi-row statements bind typed arrays).
 */
export const JOB_COLUMN_TYPES = {
  id: 'VARCHAR',
  tenant_id: 'VARCHAR',
  connection_id: 'VARCHAR',
  action: 'VARCHAR',
  status: 'VARCHAR',
  created_at: 'BIGINT',
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
  retry_of: 'VARCHAR',
  requested_by_id: 'VARCHAR',
  requested_by_name: 'VARCHAR',
  error_code: 'VARCHAR',
  version: 'INTEGER',
  challenge: 'TEXT',
  challenge_expires_at: 'BIGINT',
} as const;

/** A column of the jobs table. */
export type JobColumn = keyof typeof JOB_COLUMN_TYPES;

/** Every column of the jobs table, in the order `jobToValues` gives them. */
export const JOB_COLUMNS = Object.keys(JOB_COLUMN_TYPES) as readonly JobColumn[];

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
