import type { Job } from './job.js';
import type { JobStatus } from './status.js';

/**
 * What a write of a job is fenced on: the status and attempt it was computed from. A worker whose
 * lease expired computes from an attempt that is no longer the job's, so its writes are refused.
 */
export interface JobFence {
  readonly status: JobStatus;
  readonly attempt: number;
}

/** The parts of a stored job that others may change while a worker holds it. */
export interface StoredJobState extends JobFence {
  readonly leaseExpiresAt: Date | null;
  readonly cancelRequestedAt: Date | null;
}

/** True when the stored job is still the one the write was computed from. */
export function fenceHolds(stored: JobFence, expected: JobFence): boolean {
  return stored.status === expected.status && stored.attempt === expected.attempt;
}

/**
 * The job to store when `next` was computed from an older read than `stored`. Two things never go
 * backwards, whatever a writer read earlier:
 * - a cancel request is never cleared (the API may have asked while the worker was busy);
 * - a lease is never shortened by a write computed before a renewal; releasing it (null) is the
 *   only way down.
 */
export function mergeConcurrentChanges(stored: StoredJobState, next: Job): Job {
  const cancelRequestedAt = stored.cancelRequestedAt ?? next.cancelRequestedAt;
  let leaseExpiresAt = next.leaseExpiresAt;
  if (leaseExpiresAt !== null && stored.leaseExpiresAt !== null && stored.leaseExpiresAt > leaseExpiresAt) {
    leaseExpiresAt = stored.leaseExpiresAt;
  }
  if (cancelRequestedAt === next.cancelRequestedAt && leaseExpiresAt === next.leaseExpiresAt) return next;
  return { ...next, cancelRequestedAt, leaseExpiresAt };
}

/** What the writes an attempt makes besides the job itself (its bank data) are fenced on. */
export interface AttemptFence {
  readonly jobId: string;
  readonly attempt: number;
  readonly workerId: string;
}

/** The stored lease of a job, as an attempt's fence is checked against it. */
export interface StoredLease {
  readonly status: JobStatus;
  readonly attempt: number;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: Date | null;
}

/**
 * True while the attempt still owns the job: it is processing, in this attempt, leased to this
 * worker, and the lease has not run out. A worker paused past its lease (a stopped process, a long
 * GC, a frozen VM) fails this even before the sweeper has requeued the job, so nothing it writes
 * after waking lands on a connection another attempt now owns.
 */
export function attemptHoldsLease(stored: StoredLease, fence: AttemptFence, now: Date): boolean {
  return (
    stored.status === 'processing' &&
    stored.attempt === fence.attempt &&
    stored.leaseOwner === fence.workerId &&
    stored.leaseExpiresAt !== null &&
    stored.leaseExpiresAt.getTime() > now.getTime()
  );
}
