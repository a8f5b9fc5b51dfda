import { deriveAttempts } from './attempts.js';
import { describeError } from './error-catalogue.js';
import type { Job, JobError, JobStep, JobSummary, JobTransition } from './job.js';
import type { JobDetailWire, JobErrorWire, JobSummaryWire, JobTransitionWire } from './wire.js';

const DAY_MS = 86_400_000;
/** The day `isoDayPrefix` was computed for, and its `YYYY-MM-DDT`. */
let isoDay = Number.NaN;
let isoDayPrefix = '';
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * A date as the wire carries it: ISO-8601 in UTC, exactly `Date.prototype.toISOString` (an
 * invalid date throws its RangeError). The day is formatted once and the time of day by
 * arithmetic: five times faster, and every stored or announced job change formats a dozen times
 * (the SQLite drain's profile, issue 13).
 */
export function toIso(date: Date): string {
  const ms = date.getTime();
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    // toISOString here also throws for an invalid date (NaN never equals isoDay).
    const prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    // Years outside 0000-9999 are written with six digits and a sign: left to toISOString.
    if (prefix.length !== 11 || prefix[10] !== 'T') return date.toISOString();
    isoDay = day;
    isoDayPrefix = prefix;
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1_000);
  return `${isoDayPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(rest - seconds * 1_000)}Z`;
}

/** `toIso`, or null. */
function isoOrNull(date: Date | null): string | null {
  return date === null ? null : toIso(date);
}

function dateOrNull(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}

/** A job error with the catalogue's troubleshooting steps for its code, so every client can show them. */
function errorToWire(error: JobError | null): JobErrorWire | null {
  return error === null
    ? null
    : {
        code: error.code,
        title: error.title,
        detail: error.detail,
        retryable: error.retryable,
        troubleshooting: [...describeError(error.code).troubleshooting],
      };
}

function errorFromWire(error: JobErrorWire | null): JobError | null {
  return error === null
    ? null
    : { code: error.code, title: error.title, detail: error.detail, retryable: error.retryable };
}

/** FNV-1a (32 bits) of a string, as 6 hex digits: short, stable, and not the string. */
function shortHash(value: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0').slice(0, 6);
}

/**
 * Who did something, as tenants may see it. Workers are recorded as `hostname:pid:random` (the
 * sweeper as `sweeper:<worker>`): the infrastructure's host names and process ids are not the
 * tenants' business, so they get a stable opaque label instead — the same worker always gets the
 * same label, so "claimed by worker-1a2b3c, released by sweeper-1a2b3c" still reads. API key ids
 * and `system` (no colon) are shown as they are.
 */
export function publicActor(actor: string): string {
  if (!actor.includes(':')) return actor;
  if (actor.startsWith('sweeper:')) return `sweeper-${shortHash(actor.slice('sweeper:'.length))}`;
  return `worker-${shortHash(actor)}`;
}

/** The history row of a job. */
export function toJobSummaryWire(job: JobSummary): JobSummaryWire {
  return {
    job_id: job.id,
    connection_id: job.connectionId,
    action: job.action,
    status: job.status,
    date: toIso(job.createdAt),
    started_at: isoOrNull(job.startedAt),
    finished_at: isoOrNull(job.finishedAt),
    updated_at: toIso(job.updatedAt),
    attempt: job.attempt,
    max_attempts: job.maxAttempts,
    run_at: toIso(job.runAt),
    error: errorToWire(job.error),
    retry_of: job.retryOf,
    cancel_requested: job.cancelRequestedAt !== null,
    challenge:
      job.challenge === null
        ? null
        : { type: job.challenge.type, prompt: job.challenge.prompt, expires_at: toIso(job.challenge.expiresAt) },
    version: job.version,
  };
}

/** A recorded transition on the wire. */
export function toTransitionWire(t: JobTransition): JobTransitionWire {
  return { from: t.from, to: t.to, at: toIso(t.at), reason: t.reason, actor: t.actor, attempt: t.attempt };
}

/** The whole job on the wire, with its transition history (oldest first) and retention date. */
export function toJobDetailWire(
  job: Job,
  transitions: readonly JobTransition[],
  expiresAt: Date | null = null,
): JobDetailWire {
  const stepsToWire = (list: readonly JobStep[]) =>
    list.map((s) => ({
      name: s.name,
      status: s.status,
      started_at: isoOrNull(s.startedAt),
      finished_at: isoOrNull(s.finishedAt),
      error: errorToWire(s.error),
    }));
  const steps = stepsToWire(job.steps);
  const attempts = deriveAttempts(transitions, job.steps);
  return {
    ...toJobSummaryWire(job),
    steps,
    result: job.result === null ? null : Object.fromEntries(Object.entries(job.result)),
    requested_by: job.requestedBy === null ? null : { id: job.requestedBy.id, name: job.requestedBy.name },
    deadline_at: isoOrNull(job.deadlineAt),
    cancel_requested_at: isoOrNull(job.cancelRequestedAt),
    expires_at: isoOrNull(expiresAt),
    transitions: transitions.map(toTransitionWire),
    attempts: attempts.map((a, i) => {
      const latest = i === attempts.length - 1;
      // The job keeps the full error (with its detail) of its last attempt only; earlier ones are
      // told by their code and the catalogue.
      const error =
        a.errorCode === null
          ? null
          : latest && job.error?.code === a.errorCode
            ? errorToWire(job.error)
            : errorToWire({ ...describeError(a.errorCode), detail: describeError(a.errorCode).title });
      return {
        attempt: a.attempt,
        started_at: a.startedAt.toISOString(),
        finished_at: isoOrNull(a.finishedAt),
        outcome: a.outcome,
        error,
        worker: a.worker,
        steps: stepsToWire(a.steps),
      };
    }),
  };
}

/**
 * The whole job as a tenant may see it: {@link toJobDetailWire} with the workers (lease owner,
 * transition actors) shown as opaque labels, see {@link publicActor}.
 */
export function toPublicJobDetailWire(
  job: Job,
  transitions: readonly JobTransition[],
  expiresAt: Date | null = null,
): JobDetailWire {
  return toJobDetailWire(
    { ...job, leaseOwner: job.leaseOwner === null ? null : publicActor(job.leaseOwner) },
    transitions.map((t) => ({ ...t, actor: publicActor(t.actor) })),
    expiresAt,
  );
}

/** A recorded transition from the wire. */
export function transitionFromWire(t: JobTransitionWire): JobTransition {
  return { from: t.from, to: t.to, at: new Date(t.at), reason: t.reason, actor: t.actor, attempt: t.attempt };
}

/**
 * The domain job (and its history) back from a detail, e.g. to run `allowedActions` in a client.
 * The worker's lease is not on the wire: a client's job has none.
 */
export function jobFromDetailWire(wire: JobDetailWire): { job: Job; transitions: JobTransition[] } {
  const steps: JobStep[] = wire.steps.map((s) => ({
    name: s.name,
    status: s.status,
    startedAt: dateOrNull(s.started_at),
    finishedAt: dateOrNull(s.finished_at),
    error: errorFromWire(s.error),
  }));
  const job: Job = {
    id: wire.job_id,
    connectionId: wire.connection_id,
    action: wire.action,
    status: wire.status,
    createdAt: new Date(wire.date),
    updatedAt: new Date(wire.updated_at),
    startedAt: dateOrNull(wire.started_at),
    finishedAt: dateOrNull(wire.finished_at),
    attempt: wire.attempt,
    maxAttempts: wire.max_attempts,
    runAt: new Date(wire.run_at),
    leaseOwner: null,
    leaseExpiresAt: null,
    deadlineAt: dateOrNull(wire.deadline_at),
    cancelRequestedAt: dateOrNull(wire.cancel_requested_at),
    steps,
    error: errorFromWire(wire.error),
    result: wire.result,
    challenge:
      wire.challenge === null
        ? null
        : {
            type: wire.challenge.type,
            prompt: wire.challenge.prompt,
            expiresAt: new Date(wire.challenge.expires_at),
            wrongCodes: 0,
          },
    retryOf: wire.retry_of,
    requestedBy: wire.requested_by,
    version: wire.version,
  };
  return { job, transitions: wire.transitions.map(transitionFromWire) };
}
