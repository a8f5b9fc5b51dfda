import { assertNever, describeError, type JobSummaryWire } from '@jobtrail/domain';

/**
 * What will happen next to a job with an error, in the dashboard's words. Derived from the job's own
 * `retryable` flag (set by the engine from the error catalogue) and its attempts: the dashboard
 * never promises an automatic retry the engine will not make.
 */
export type RetryOutlook =
  /** Pending with an error: the engine requeued it and will try again at `run_at`. */
  | 'will-retry'
  /** Failed with an error that is never retried (wrong credentials, action needed at the bank). */
  | 'not-retried'
  /** Failed with a retryable error after every allowed attempt. */
  | 'exhausted'
  /** Cancelled, or no error at all. */
  | 'none';

type Fields = Pick<JobSummaryWire, 'status' | 'error' | 'attempt' | 'max_attempts'>;

export function retryOutlook(job: Fields): RetryOutlook {
  if (!job.error) return 'none';
  if (job.status === 'pending') return 'will-retry';
  if (job.status !== 'failed') return 'none';
  return job.error.retryable ? 'exhausted' : 'not-retried';
}

/** "Not retried", "All 3 attempts failed", "1 of 3": the attempts as the job page states them. */
export function attemptsText(job: Fields): string {
  const outlook = retryOutlook(job);
  switch (outlook) {
    case 'not-retried':
      return job.attempt <= 1 ? 'Not retried' : `${job.attempt} made, then not retried`;
    case 'exhausted':
      return `All ${job.max_attempts} attempts failed`;
    case 'will-retry':
      return `${job.attempt} of ${job.max_attempts} failed, another attempt is coming`;
    case 'none':
      return `${job.attempt} of ${job.max_attempts}`;
    default:
      return assertNever(outlook, 'retry outlook');
  }
}

/**
 * The history's narrow Attempt column: "1/3" as a count, except a failure that will not be retried
 * reads "Not retried" (as the job page says), never "1/3", which suggests two more attempts to come.
 */
export function attemptsCellText(job: Fields): string {
  const outlook = retryOutlook(job);
  switch (outlook) {
    case 'not-retried':
      return job.attempt <= 1 ? 'Not retried' : `${job.attempt}/${job.max_attempts}, not retried`;
    case 'exhausted':
    case 'will-retry':
    case 'none':
      return `${job.attempt}/${job.max_attempts}`;
    default:
      return assertNever(outlook, 'retry outlook');
  }
}

/** A retry that cannot help until someone acts first: it is secondary and asks for confirmation. */
export function retryNeedsConfirmation(job: Fields): boolean {
  return retryOutlook(job) === 'not-retried';
}

/**
 * The catalogue's troubleshooting steps for this job. Steps that promise an automatic retry are
 * left out once the engine has stopped retrying (attempts exhausted): they are no longer true.
 */
export function troubleshootingFor(job: Fields): readonly string[] {
  if (!job.error) return [];
  const steps = describeError(job.error.code).troubleshooting;
  return retryOutlook(job) === 'exhausted' ? steps.filter((s) => !/retries (it )?automatically/i.test(s)) : steps;
}
