import type { StepName } from './action.js';
import { endsAttempt } from './attempts.js';
import { assertNever } from './assert-never.js';
import { nextRunAt, type BackoffOptions } from './backoff.js';
import {
  createJob,
  freshSteps,
  isParked,
  jobError,
  MFA_MAX_WRONG_CODES,
  type Job,
  type JobError,
  type JobResult,
  type JobStep,
  type JobTransition,
} from './job.js';
import { isTerminal, type JobStatus } from './status.js';

/** Everything that can happen to a job. */
export type JobEvent =
  /** A worker takes a due pending job: attempt + 1, lease until now + leaseMs. */
  | { readonly type: 'claim'; readonly workerId: string; readonly leaseMs: number; readonly deadlineMs?: number }
  /** The worker renews its lease. */
  | { readonly type: 'heartbeat'; readonly workerId: string; readonly leaseMs: number }
  /** The next step in order starts. */
  | { readonly type: 'step-started'; readonly step: StepName }
  /** The running step finished well. */
  | { readonly type: 'step-succeeded'; readonly step: StepName }
  /** Every step succeeded. */
  | { readonly type: 'succeed'; readonly result: JobResult }
  /** A non-retryable error, or a retryable one with no attempt left. */
  | { readonly type: 'fail'; readonly error: JobError }
  /** A retryable error (or a lost lease) with attempts left: back to pending until `runAt`. */
  | { readonly type: 'requeue'; readonly error: JobError; readonly runAt: Date }
  /** Someone asks to cancel: a pending job ends at once, a processing one is flagged. */
  | { readonly type: 'request-cancel' }
  /** The worker honours a cancel request at a step boundary. */
  | { readonly type: 'stop-cancelled' }
  /** The attempt ran past its deadline. */
  | { readonly type: 'deadline-passed' }
  /**
   * The worker gives the job back unfinished because it is shutting down (a deploy): back to
   * pending at once, and the attempt is not counted against the job (it gets one more), so a job
   * running through several deploys is not failed for them.
   */
  | { readonly type: 'release'; readonly error: JobError }
  /**
   * The institution asks the user for a one-time code at the running step: the step becomes
   * `action-required`, the job carries the challenge, and the worker gives up its lease (and the
   * attempt's deadline): a waiting job holds no worker slot, and the lease sweeper leaves it alone.
   */
  | { readonly type: 'await-code'; readonly prompt: string; readonly expiresAt: Date }
  /** The right code came in time: the step that asked succeeded; a worker resumes the job after it. */
  | { readonly type: 'code-accepted' }
  /** A wrong code, with wrong codes left: the challenge keeps waiting. */
  | { readonly type: 'code-rejected' }
  /**
   * The job's institution is down (its circuit is open): the pending job waits until `runAt`,
   * its attempts untouched, instead of burning them on a bank that is not answering.
   */
  | { readonly type: 'hold'; readonly runAt: Date }
  /** A worker takes an answered, parked job back (same attempt) and runs its remaining steps. */
  | { readonly type: 'resume'; readonly workerId: string; readonly leaseMs: number; readonly deadlineMs?: number };

/** The kind of an event. */
export type JobEventType = JobEvent['type'];

/** Every event type, for exhaustive tests and tables. */
export const JOB_EVENT_TYPES = [
  'claim',
  'heartbeat',
  'step-started',
  'step-succeeded',
  'succeed',
  'fail',
  'requeue',
  'request-cancel',
  'stop-cancelled',
  'deadline-passed',
  'release',
  'await-code',
  'code-accepted',
  'code-rejected',
  'resume',
  'hold',
] as const satisfies readonly JobEventType[];

/**
 * Events that keep a job `processing` yet are recorded as a transition (`processing → processing`,
 * reason `mfa-required` / `mfa-answered`): the user is asked something, or answered it, so live
 * streams and webhooks (`job.updated`) must tell.
 */
const RECORDED_SAME_STATUS_EVENTS: ReadonlySet<JobEventType> = new Set(['await-code', 'code-accepted']);

/**
 * The state machine as data: for each status, the events it accepts and the status they lead to.
 * An event absent from a row is refused in that status. Terminal rows are empty.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, Readonly<Partial<Record<JobEventType, JobStatus>>>>> = {
  pending: { claim: 'processing', 'request-cancel': 'cancelled', hold: 'pending' },
  processing: {
    heartbeat: 'processing',
    'step-started': 'processing',
    'step-succeeded': 'processing',
    'request-cancel': 'processing',
    succeed: 'success',
    fail: 'failed',
    'deadline-passed': 'failed',
    requeue: 'pending',
    release: 'pending',
    'stop-cancelled': 'cancelled',
    'await-code': 'processing',
    'code-accepted': 'processing',
    'code-rejected': 'processing',
    resume: 'processing',
  },
  success: {},
  failed: {},
  cancelled: {},
};

/** Why the machine refused an event. */
export type TransitionRefusal =
  /** The table has no such (status, event) pair. */
  | 'illegal-transition'
  /** The pair exists but a rule about the job's data forbids it now. */
  | 'guard-failed'
  /**
   * A manual retry of an `invalid-credentials` failure before the connection's credentials changed:
   * it would send the same rejected password again, which may lock the user's bank account.
   */
  | 'credentials-update-required';

/** A refused change, naming the rule that refused it. */
export class TransitionError extends Error {
  override readonly name = 'TransitionError';
  constructor(
    readonly refusal: TransitionRefusal,
    readonly from: JobStatus,
    /** The refused event, or `retry` for a manual retry. */
    readonly event: JobEventType | 'retry',
    readonly rule: string,
  ) {
    super(`cannot apply '${event}' to a ${from} job: ${rule}`);
  }
}

/** Who causes the change and when. */
export interface TransitionContext {
  readonly now: Date;
  /** A worker id, an API key id, or `system`. */
  readonly actor: string;
}

/** The outcome of `transitionJob`. */
export type TransitionResult =
  | { readonly ok: true; readonly job: Job; readonly transition: JobTransition | null }
  | { readonly ok: false; readonly error: TransitionError };

/**
 * Applies an event to a job. Pure: returns the next job plus the transition to record (null when
 * the status did not change), or the typed refusal. The job given is never modified.
 */
export function transitionJob(job: Job, event: JobEvent, ctx: TransitionContext): TransitionResult {
  const to = JOB_TRANSITIONS[job.status][event.type];
  if (to === undefined) {
    const rule = isTerminal(job.status)
      ? `${job.status} is terminal and never changes`
      : `no transition from ${job.status} on '${event.type}'`;
    return refuse('illegal-transition', job, event, rule);
  }
  const guard = checkGuard(job, event, ctx.now);
  if (guard !== null) return refuse('guard-failed', job, event, guard);

  const next = apply(job, event, to, ctx.now);
  const transition: JobTransition | null =
    next.status === job.status && !RECORDED_SAME_STATUS_EVENTS.has(event.type)
      ? null
      : {
          from: job.status,
          to: next.status,
          at: ctx.now,
          reason: reasonOf(event),
          actor: ctx.actor,
          attempt: next.attempt,
          // The attempt's last word on its steps: the next claim resets the job's.
          ...(endsAttempt(job.status, next.status) ? { steps: next.steps } : {}),
        };
  return { ok: true, job: next, transition };
}

/** Like `transitionJob`, but throws the `TransitionError`. */
export function transitionJobOrThrow(
  job: Job,
  event: JobEvent,
  ctx: TransitionContext,
): { job: Job; transition: JobTransition | null } {
  const res = transitionJob(job, event, ctx);
  if (!res.ok) throw res.error;
  return { job: res.job, transition: res.transition };
}

function refuse(refusal: TransitionRefusal, job: Job, event: JobEvent, rule: string): TransitionResult {
  return { ok: false, error: new TransitionError(refusal, job.status, event.type, rule) };
}

/** The rule that forbids the event now, or null. The table has already allowed the pair. */
function checkGuard(job: Job, event: JobEvent, now: Date): string | null {
  switch (event.type) {
    case 'claim':
      if (job.runAt.getTime() > now.getTime()) return 'the job is not due before run_at';
      if (job.attempt >= job.maxAttempts) return 'no attempt left';
      if (!(event.leaseMs > 0)) return 'a lease must be positive';
      return null;
    case 'heartbeat':
      if (job.leaseOwner !== event.workerId) return 'only the lease owner can renew the lease';
      if (!(event.leaseMs > 0)) return 'a lease must be positive';
      return null;
    case 'step-started': {
      if (job.steps.some((s) => s.status === 'running')) return 'another step is running';
      const nextStep = job.steps.find((s) => s.status === 'pending');
      if (nextStep?.name !== event.step) return `steps run in order; next is ${nextStep?.name ?? 'none'}`;
      return null;
    }
    case 'step-succeeded':
      return job.steps.some((s) => s.name === event.step && s.status === 'running')
        ? null
        : `step ${event.step} is not running`;
    case 'succeed':
      return job.steps.every((s) => s.status === 'success') ? null : 'every step must have succeeded';
    case 'fail':
      return event.error.retryable && job.attempt < job.maxAttempts
        ? 'a retryable error with attempts left requeues the job'
        : null;
    case 'requeue':
      if (!event.error.retryable) return 'only retryable errors requeue';
      if (job.attempt >= job.maxAttempts) return 'no attempt left';
      if (job.cancelRequestedAt !== null) return 'a cancel was requested: the job stops instead';
      return null;
    case 'request-cancel':
      return job.cancelRequestedAt !== null ? 'cancel already requested' : null;
    case 'stop-cancelled':
      return job.cancelRequestedAt === null ? 'no cancel was requested' : null;
    case 'deadline-passed':
      return job.deadlineAt !== null && job.deadlineAt.getTime() <= now.getTime()
        ? null
        : 'the deadline has not passed';
    case 'release':
      return job.cancelRequestedAt !== null ? 'a cancel was requested: the job stops instead' : null;
    case 'await-code':
      if (job.challenge !== null) return 'a challenge is already waiting';
      if (job.leaseOwner === null) return 'only the worker running the step can ask';
      if (!job.steps.some((s) => s.status === 'running')) return 'no step is running';
      if (job.cancelRequestedAt !== null) return 'a cancel was requested: the job stops instead';
      return event.expiresAt.getTime() > now.getTime() ? null : 'the challenge must expire in the future';
    case 'code-accepted':
      return challengeOpen(job, now);
    case 'code-rejected':
      return (
        challengeOpen(job, now) ??
        ((job.challenge?.wrongCodes ?? 0) + 1 >= MFA_MAX_WRONG_CODES ? 'the last wrong code fails the job' : null)
      );
    case 'hold':
      return event.runAt.getTime() > job.runAt.getTime() ? null : 'a hold only moves run_at later';
    case 'resume':
      if (job.leaseOwner !== null) return 'a worker holds the job';
      if (job.challenge !== null) return 'the challenge has not been answered';
      if (!(event.leaseMs > 0)) return 'a lease must be positive';
      return job.cancelRequestedAt !== null ? 'a cancel was requested: the job stops instead' : null;
    default:
      return assertNever(event, 'job event');
  }
}

/** Null while a challenge waits for an answer and has not expired, else why not. */
function challengeOpen(job: Job, now: Date): string | null {
  if (job.challenge === null) return 'no challenge is waiting';
  return job.challenge.expiresAt.getTime() > now.getTime() ? null : 'the challenge expired';
}

/**
 * The job in its next status, every other field copied. One literal naming every field (the
 * `satisfies` makes a new field of Job break the build here): every copy then has one shape,
 * where a spread of jobs of many shapes took V8's slow path, 7% of the SQLite drain (issue 13).
 */
function moved(job: Job, to: JobStatus, now: Date, steps: readonly JobStep[] = job.steps): Job {
  return {
    id: job.id,
    connectionId: job.connectionId,
    action: job.action,
    status: to,
    createdAt: job.createdAt,
    updatedAt: now,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    runAt: job.runAt,
    leaseOwner: job.leaseOwner,
    leaseExpiresAt: job.leaseExpiresAt,
    deadlineAt: job.deadlineAt,
    cancelRequestedAt: job.cancelRequestedAt,
    steps,
    error: job.error,
    result: job.result,
    challenge: job.challenge,
    retryOf: job.retryOf,
    requestedBy: job.requestedBy,
    version: job.version,
  } satisfies { readonly [K in keyof Required<Job>]: Job[K] };
}

function apply(job: Job, event: JobEvent, to: JobStatus, now: Date): Job {
  if (event.type === 'claim')
    return {
      // Each attempt runs every step of its action again from the start: fresh steps, not the job's
      // own reset, so a claim never reads them (a job read from the store parses its steps on first
      // read: a fifth of a claim's JavaScript).
      ...moved(job, to, now, freshSteps(job.action)),
      attempt: job.attempt + 1,
      startedAt: now,
      leaseOwner: event.workerId,
      leaseExpiresAt: new Date(now.getTime() + event.leaseMs),
      deadlineAt: event.deadlineMs === undefined ? null : new Date(now.getTime() + event.deadlineMs),
      error: null,
    };
  const base = moved(job, to, now);
  switch (event.type) {
    case 'heartbeat':
      return { ...base, leaseExpiresAt: new Date(now.getTime() + event.leaseMs) };
    case 'step-started':
      return { ...base, steps: updateStep(job.steps, event.step, { status: 'running', startedAt: now }) };
    case 'step-succeeded':
      return { ...base, steps: updateStep(job.steps, event.step, { status: 'success', finishedAt: now }) };
    case 'succeed':
      return { ...released(base), finishedAt: now, result: event.result };
    case 'fail':
      return { ...released(base), finishedAt: now, error: event.error, steps: endSteps(job.steps, event.error, now) };
    case 'deadline-passed': {
      const error = jobError('job-timed-out', `The attempt passed its deadline (${job.deadlineAt?.toISOString()}).`);
      return { ...released(base), finishedAt: now, error, steps: endSteps(job.steps, error, now) };
    }
    case 'requeue':
      return {
        ...released(base),
        runAt: event.runAt,
        error: event.error,
        steps: endSteps(job.steps, event.error, now),
      };
    case 'release':
      return {
        ...released(base),
        runAt: now,
        maxAttempts: job.maxAttempts + 1,
        error: event.error,
        steps: endSteps(job.steps, event.error, now),
      };
    case 'request-cancel':
      if (to === 'cancelled') {
        const error = jobError('cancelled', 'Cancelled before it started.');
        return { ...base, finishedAt: now, cancelRequestedAt: now, error, steps: endSteps(job.steps, null, now) };
      }
      return { ...base, cancelRequestedAt: now };
    case 'stop-cancelled': {
      const error = jobError('cancelled', 'Cancelled while processing; stopped at a step boundary.');
      return { ...released(base), finishedAt: now, error, steps: endSteps(job.steps, null, now) };
    }
    case 'await-code':
      return {
        ...released(base),
        challenge: { type: 'one-time-code', prompt: event.prompt, expiresAt: event.expiresAt, wrongCodes: 0 },
        steps: job.steps.map((s) => (s.status === 'running' ? { ...s, status: 'action-required' } : s)),
      };
    case 'code-accepted':
      return {
        ...base,
        challenge: null,
        steps: job.steps.map((s) =>
          s.status === 'action-required' ? { ...s, status: 'success', finishedAt: now } : s,
        ),
      };
    case 'code-rejected':
      return { ...base, challenge: job.challenge && { ...job.challenge, wrongCodes: job.challenge.wrongCodes + 1 } };
    case 'hold':
      return { ...base, runAt: event.runAt };
    case 'resume':
      return {
        ...base,
        leaseOwner: event.workerId,
        leaseExpiresAt: new Date(now.getTime() + event.leaseMs),
        deadlineAt: event.deadlineMs === undefined ? null : new Date(now.getTime() + event.deadlineMs),
      };
    default:
      return assertNever(event, 'job event');
  }
}

function released(job: Job): Job {
  return { ...job, leaseOwner: null, leaseExpiresAt: null, deadlineAt: null, challenge: null };
}

function updateStep(steps: readonly JobStep[], name: StepName, patch: Partial<JobStep>): JobStep[] {
  return steps.map((s) => (s.name === name ? { ...s, ...patch } : s));
}

/** The running (or waiting) step fails with the error (if any); steps never reached are skipped. */
function endSteps(steps: readonly JobStep[], error: JobError | null, now: Date): JobStep[] {
  return steps.map((s) => {
    if (s.status === 'running' || s.status === 'action-required')
      return { ...s, status: error ? 'failed' : 'skipped', finishedAt: now, error };
    if (s.status === 'pending') return { ...s, status: 'skipped' };
    return s;
  });
}

function reasonOf(event: JobEvent): string {
  switch (event.type) {
    case 'claim':
      return 'claimed';
    case 'succeed':
      return 'completed';
    case 'fail':
    case 'requeue':
    case 'release':
      return event.error.code;
    case 'deadline-passed':
      return 'job-timed-out';
    case 'request-cancel':
    case 'stop-cancelled':
      return 'cancelled';
    case 'heartbeat':
    case 'step-started':
    case 'step-succeeded':
      return event.type;
    case 'await-code':
      return 'mfa-required';
    case 'code-accepted':
      return 'mfa-answered';
    case 'code-rejected':
      return 'mfa-code-rejected';
    case 'resume':
      return 'resumed';
    case 'hold':
      return 'institution-down';
    default:
      return assertNever(event, 'job event');
  }
}

/**
 * The event an answer to a job's challenge leads to, or null when no challenge waits (409): the
 * right code in time continues the job; a wrong one is counted, and the third fails the job with
 * `mfa-failed`; an answer after `expires_at` fails it with `mfa-timeout` (the sweeper would have).
 */
export function challengeAnswerEvent(job: Job, codeAccepted: boolean, now: Date): JobEvent | null {
  if (job.status !== 'processing' || job.challenge === null) return null;
  if (job.challenge.expiresAt.getTime() <= now.getTime()) return challengeExpiredEvent(job);
  if (codeAccepted) return { type: 'code-accepted' };
  if (job.challenge.wrongCodes + 1 < MFA_MAX_WRONG_CODES) return { type: 'code-rejected' };
  return {
    type: 'fail',
    error: jobError('mfa-failed', `${MFA_MAX_WRONG_CODES} wrong one-time codes were entered.`),
  };
}

/** What the sweeper applies to a challenge nobody answered before it expired. */
export function challengeExpiredEvent(job: Job): JobEvent {
  return {
    type: 'fail',
    error: jobError(
      'mfa-timeout',
      `No one-time code was entered before the challenge expired (${job.challenge?.expiresAt.toISOString() ?? '?'}).`,
    ),
  };
}

/**
 * A cancel request, as events: a parked job (waiting for a code, or for a worker to resume it)
 * has no worker to stop it at a step boundary, so it is cancelled at once.
 */
export function cancelEvents(job: Job): JobEvent[] {
  return isParked(job) ? [{ type: 'request-cancel' }, { type: 'stop-cancelled' }] : [{ type: 'request-cancel' }];
}

/**
 * The event that an error leads to: requeue with backoff when it is retryable and attempts are
 * left, fail otherwise. Workers and the lease sweeper both decide through this.
 */
export function eventForError(job: Job, error: JobError, now: Date, backoff?: BackoffOptions): JobEvent {
  if (error.retryable && job.attempt < job.maxAttempts) {
    // Nobody wants another attempt of a job they asked to cancel.
    if (job.cancelRequestedAt !== null) return { type: 'stop-cancelled' };
    return { type: 'requeue', error, runAt: nextRunAt(job.attempt, now, backoff) };
  }
  return { type: 'fail', error };
}

/** What a person may do with a job now: the dashboard's buttons and the API's 409s agree on it. */
export interface AllowedActions {
  /** Start a new job that retries this one. */
  readonly retry: boolean;
  /** Cancel it (at once when pending, at the next step boundary when processing). */
  readonly cancel: boolean;
  /** Answer the institution's one-time-code challenge (`POST /jobs/:job_id/mfa`). */
  readonly answerChallenge: boolean;
}

/** The manual actions the state machine allows on this job. */
export function allowedActions(
  job: Pick<Job, 'status' | 'cancelRequestedAt'> & Partial<Pick<Job, 'challenge'>>,
): AllowedActions {
  switch (job.status) {
    case 'pending':
      return { retry: false, cancel: true, answerChallenge: false };
    case 'processing':
      return {
        retry: false,
        cancel: job.cancelRequestedAt === null,
        answerChallenge: job.challenge != null && job.cancelRequestedAt === null,
      };
    case 'failed':
    case 'cancelled':
      return { retry: true, cancel: false, answerChallenge: false };
    case 'success':
      return { retry: false, cancel: false, answerChallenge: false };
    default:
      return assertNever(job.status, 'job status');
  }
}

/** What a manual retry needs besides the job it retries. */
export interface RetryInput {
  readonly id: string;
  readonly now: Date;
  readonly requestedBy?: Job['requestedBy'];
  /** When the connection's credentials last changed (null: never since it was created). */
  readonly credentialsUpdatedAt: Date | null;
}

/**
 * True when retrying this job would resend credentials the bank already rejected: it failed with
 * `invalid-credentials` and the credentials have not changed since its last attempt started (the
 * attempt read them when it was claimed: credentials replaced while it ran were not the ones
 * rejected).
 */
export function retryNeedsNewCredentials(
  job: Pick<Job, 'status' | 'error' | 'startedAt' | 'finishedAt' | 'updatedAt'>,
  credentialsUpdatedAt: Date | null,
): boolean {
  if (job.status !== 'failed' || job.error?.code !== 'invalid-credentials') return false;
  const triedAt = job.startedAt ?? job.finishedAt ?? job.updatedAt;
  return credentialsUpdatedAt === null || credentialsUpdatedAt.getTime() <= triedAt.getTime();
}

/**
 * A manual retry: a new pending job of the same action on the same connection, with `retryOf`
 * set. The old job stays as it was. Refused unless the job is failed or cancelled, and for an
 * `invalid-credentials` failure until the connection's credentials changed after it.
 */
export function retryJob(job: Job, input: RetryInput): { ok: true; job: Job } | { ok: false; error: TransitionError } {
  if (!allowedActions(job).retry) {
    return {
      ok: false,
      error: new TransitionError(
        'illegal-transition',
        job.status,
        'retry',
        `only failed or cancelled jobs can be retried, this one is ${job.status}`,
      ),
    };
  }
  if (retryNeedsNewCredentials(job, input.credentialsUpdatedAt)) {
    return {
      ok: false,
      error: new TransitionError(
        'credentials-update-required',
        job.status,
        'retry',
        'the bank rejected these credentials: update the connection with new ones before retrying',
      ),
    };
  }
  const next = createJob({
    id: input.id,
    connectionId: job.connectionId,
    action: job.action,
    now: input.now,
    maxAttempts: job.maxAttempts,
    retryOf: job.id,
    requestedBy: input.requestedBy ?? null,
  });
  return { ok: true, job: next };
}
