import { assertNever } from './assert-never.js';

/** Every status a job can be in; the order is the order of a normal life. */
export const JOB_STATUSES = [
  /** Queued: waiting for a worker, or for `run_at` after a retryable error. */
  'pending',
  /** A worker holds the job's lease and is running its steps. */
  'processing',
  /** Every step succeeded. Terminal. */
  'success',
  /** A non-retryable error, attempts used up, or the deadline passed. Terminal. */
  'failed',
  /** Cancelled on request, before or during processing. Terminal. */
  'cancelled',
] as const;

/** The status of a job; see {@link JOB_STATUSES}. */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter((s) => isTerminal(s));

/** True when a job in this status never changes again. */
export function isTerminal(status: JobStatus): boolean {
  switch (status) {
    case 'pending':
    case 'processing':
      return false;
    case 'success':
    case 'failed':
    case 'cancelled':
      return true;
    default:
      return assertNever(status, 'job status');
  }
}

/** True for a string that names a job status (for parsing untrusted input). */
export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}

/** Every status a step of a job can be in. */
export const STEP_STATUSES = [
  /** Not reached yet in this attempt. */
  'pending',
  /** The worker is running this step now. */
  'running',
  /** The step finished without error. */
  'success',
  /** The step raised the job's error. */
  'failed',
  /**
   * The institution waits for the user (a one-time code, see the job's `challenge`); the job holds
   * no worker and no lease until the answer comes.
   */
  'action-required',
  /** Never run: the job ended (failed or cancelled) before reaching it. */
  'skipped',
] as const;

/** The status of one step; see {@link STEP_STATUSES}. */
export type StepStatus = (typeof STEP_STATUSES)[number];
