import { stepsOf, type JobAction, type StepName } from './action.js';
import { describeError } from './error-catalogue.js';
import type { JobStatus, StepStatus } from './status.js';

/** The error a job ended (or was requeued) with. `code` is catalogued, or an institution's own. */
export interface JobError {
  readonly code: string;
  readonly title: string;
  /** What happened in this very job (the catalogue's title says what the code means in general). */
  readonly detail: string;
  readonly retryable: boolean;
}

/** One step of a job's progress in its current attempt. */
export interface JobStep {
  readonly name: StepName;
  readonly status: StepStatus;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly error: JobError | null;
}

/** Counts reported by a successful job, e.g. `{ accounts: 3, transactions: 412 }`. */
export type JobResult = Readonly<Record<string, number>>;

/**
 * What the institution asks the user for while a job waits (`POST /jobs/:job_id/mfa` answers).
 * The job stays `processing`, the step that asked is `action-required`, and no worker holds it.
 */
export interface JobChallenge {
  readonly type: 'one-time-code';
  /** What the institution says to the user, e.g. "Enter the code sent to your phone". */
  readonly prompt: string;
  /** When the challenge lapses: the job then fails with `mfa-timeout`. */
  readonly expiresAt: Date;
  /** Wrong codes given so far; the {@link MFA_MAX_WRONG_CODES}th fails the job with `mfa-failed`. */
  readonly wrongCodes: number;
}

/** Wrong one-time codes that fail a job (`mfa-failed`). */
export const MFA_MAX_WRONG_CODES = 3;

/** How long a one-time-code challenge waits by default (`JOBTRAIL_MFA_TIMEOUT_MS`). */
export const DEFAULT_MFA_TIMEOUT_MS = 5 * 60_000;

/** The API key that started a job. */
export interface RequestedBy {
  readonly id: string;
  readonly name: string;
}

/**
 * A job: one run of an action on a connection. Plain data; every change goes through
 * `transitionJob`, which returns a new object.
 */
export interface Job {
  readonly id: string;
  readonly connectionId: string;
  readonly action: JobAction;
  readonly status: JobStatus;
  /** When the job was triggered (the `date` of the history). */
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the current (latest) attempt started. */
  readonly startedAt: Date | null;
  /** When the job reached a terminal status. */
  readonly finishedAt: Date | null;
  /** Attempts made so far (a claim adds one). */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Earliest time the next attempt may start. */
  readonly runAt: Date;
  /** The worker holding the job while processing. */
  readonly leaseOwner: string | null;
  /** When the lease ends unless the worker renews it. */
  readonly leaseExpiresAt: Date | null;
  /** When the current attempt must be over, or it fails with `job-timed-out`. */
  readonly deadlineAt: Date | null;
  /** Set when a cancel was asked while processing; the worker stops at the next step boundary. */
  readonly cancelRequestedAt: Date | null;
  readonly steps: readonly JobStep[];
  readonly error: JobError | null;
  readonly result: JobResult | null;
  /** While the institution waits for the user (one-time code): what it asks; null otherwise. */
  readonly challenge: JobChallenge | null;
  /** The failed or cancelled job that this one retries. */
  readonly retryOf: string | null;
  readonly requestedBy: RequestedBy | null;
  /**
   * +1 on every stored change (1 when created), set by the store's commit: a webhook receiver
   * drops an event whose version is not above the last one it applied.
   */
  readonly version: number;
}

/**
 * A job without its steps and result: all that a history row, a list page or an export shows
 * (`toJobSummaryWire`). Stored jobs read as summaries skip parsing those two JSON columns, and stay
 * plain objects with a fixed set of fields, which V8 reads fastest (issue 13).
 */
export type JobSummary = Omit<Job, 'steps' | 'result'>;

/**
 * True while a processing job is parked: no worker holds it (no lease) because it waits for the
 * user's answer to a challenge, or — answered — for a worker to resume it.
 */
export function isParked(job: Pick<Job, 'status' | 'leaseOwner'>): boolean {
  return job.status === 'processing' && job.leaseOwner === null;
}

/** One recorded status change of a job. */
export interface JobTransition {
  readonly from: JobStatus;
  readonly to: JobStatus;
  readonly at: Date;
  /** Why: `claimed`, `completed`, an error code, `cancel-requested`... */
  readonly reason: string;
  /** Who: a worker id, an API key id, or `system`. */
  readonly actor: string;
  /** The job's attempt number after the change. */
  readonly attempt: number;
  /**
   * The steps of the attempt this change ends, as they stood when it ended: set on the changes out
   * of `processing` (see `endsAttempt`), because the next claim resets the job's own `steps` and
   * nothing else would keep them. Absent on other changes, and on changes recorded before steps
   * were kept.
   */
  readonly steps?: readonly JobStep[];
}

/** Default number of automatic attempts of a job. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** What is needed to start a new job. */
export interface NewJob {
  readonly id: string;
  readonly connectionId: string;
  readonly action: JobAction;
  readonly now: Date;
  readonly maxAttempts?: number;
  readonly retryOf?: string | null;
  readonly requestedBy?: RequestedBy | null;
}

/** A fresh `pending` job, due at once, with every step of its action pending. */
export function createJob(input: NewJob): Job {
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError('maxAttempts must be an integer >= 1');
  return {
    id: input.id,
    connectionId: input.connectionId,
    action: input.action,
    status: 'pending',
    createdAt: input.now,
    updatedAt: input.now,
    startedAt: null,
    finishedAt: null,
    attempt: 0,
    maxAttempts,
    runAt: input.now,
    leaseOwner: null,
    leaseExpiresAt: null,
    deadlineAt: null,
    cancelRequestedAt: null,
    steps: freshSteps(input.action),
    error: null,
    result: null,
    challenge: null,
    retryOf: input.retryOf ?? null,
    requestedBy: input.requestedBy ?? null,
    version: 1,
  };
}

const FRESH_STEPS = new Map<JobAction, readonly JobStep[]>();

/**
 * Every step of the action, pending. One frozen array per action, shared by every new job and
 * every claim: steps are never modified in place, and what is stored from it (its JSON) is then
 * computed once.
 */
export function freshSteps(action: JobAction): readonly JobStep[] {
  let steps = FRESH_STEPS.get(action);
  if (steps === undefined) {
    steps = Object.freeze(
      stepsOf(action).map((name) =>
        Object.freeze({ name, status: 'pending' as const, startedAt: null, finishedAt: null, error: null }),
      ),
    );
    FRESH_STEPS.set(action, steps);
  }
  return steps;
}

/**
 * A job error for `code`, with the catalogue's title and retry rule. Unknown codes keep the
 * retry flag the institution gave (default: not retryable).
 */
export function jobError(code: string, detail: string, retryable?: boolean): JobError {
  const entry = describeError(code);
  return { code, title: entry.title, detail, retryable: entry.known ? entry.retryable : (retryable ?? false) };
}
