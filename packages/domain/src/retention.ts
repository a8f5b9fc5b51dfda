import { assertNever } from './assert-never.js';
import type { Job } from './job.js';
import type { JobStatus } from './status.js';

/** How many days a job is kept after it ended, per terminal status. */
export interface RetentionPolicy {
  readonly successDays: number;
  readonly failedDays: number;
  readonly cancelledDays: number;
}

/** Defaults: successes are the bulk and matter least; failures are kept for a year of support. */
export const DEFAULT_RETENTION: RetentionPolicy = { successDays: 90, failedDays: 365, cancelledDays: 90 };

/** Days a job of this status is kept after it finished; null for statuses that are never deleted. */
export function retentionDays(status: JobStatus, policy: RetentionPolicy): number | null {
  switch (status) {
    case 'pending':
    case 'processing':
      return null;
    case 'success':
      return policy.successDays;
    case 'failed':
      return policy.failedDays;
    case 'cancelled':
      return policy.cancelledDays;
    default:
      return assertNever(status, 'job status');
  }
}

/** When the job will be deleted by the retention cleanup; null while it is not finished. */
export function jobExpiresAt(job: Pick<Job, 'status' | 'finishedAt'>, policy: RetentionPolicy): Date | null {
  const days = retentionDays(job.status, policy);
  if (days === null || job.finishedAt === null) return null;
  return new Date(job.finishedAt.getTime() + days * 86_400_000);
}
