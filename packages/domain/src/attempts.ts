import { assertNever } from './assert-never.js';
import type { JobStatus } from './status.js';
import type { JobStep, JobTransition } from './job.js';

/** How an attempt ended (`running` while it has not). */
export const ATTEMPT_OUTCOMES = ['running', 'success', 'failed', 'requeued', 'cancelled'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt of a job, as its recorded transitions tell it. */
export interface JobAttempt {
  readonly attempt: number;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly outcome: AttemptOutcome;
  /** The error code the attempt ended with (failed, requeued), else null. */
  readonly errorCode: string | null;
  /** Who ran it: the worker that claimed it. */
  readonly worker: string;
  /**
   * Its steps as they ended (from the transition that closed it), the running attempt's as the
   * job holds them; empty for an attempt that ended before steps were kept.
   */
  readonly steps: readonly JobStep[];
}

/**
 * Whether a change of status ends an attempt: every change out of `processing` (success, failure,
 * requeue, cancel, lost worker...). Such a change records the attempt's final steps.
 */
export function endsAttempt(from: JobStatus, to: JobStatus): boolean {
  return from === 'processing' && to !== 'processing';
}

/**
 * Every attempt of a job from its transitions, oldest first: a claim (`pending → processing`)
 * opens one, the next change out of `processing` closes it, carrying the attempt's final steps.
 * `currentSteps` (the job's own) are the latest attempt's. Nothing else is stored per attempt, so
 * this is the one place that reads attempts out of the history.
 */
export function deriveAttempts(
  transitions: readonly JobTransition[],
  currentSteps: readonly JobStep[] = [],
): JobAttempt[] {
  const attempts: JobAttempt[] = [];
  for (const t of transitions) {
    if (t.from === 'pending' && t.to === 'processing') {
      attempts.push({
        attempt: t.attempt,
        startedAt: t.at,
        finishedAt: null,
        outcome: 'running',
        errorCode: null,
        worker: t.actor,
        steps: [],
      });
      continue;
    }
    const open = attempts[attempts.length - 1];
    if (!endsAttempt(t.from, t.to) || !open || open.outcome !== 'running') continue;
    const end = (outcome: AttemptOutcome, errorCode: string | null) =>
      (attempts[attempts.length - 1] = { ...open, finishedAt: t.at, outcome, errorCode, steps: t.steps ?? [] });
    switch (t.to) {
      case 'success':
        end('success', null);
        break;
      case 'failed':
        end('failed', t.reason || null);
        break;
      case 'pending':
        end('requeued', t.reason || null);
        break;
      case 'cancelled':
        end('cancelled', null);
        break;
      case 'processing':
        // Not an end (`endsAttempt` skipped it): a heartbeat-like change within the attempt.
        break;
      default:
        assertNever(t.to, 'job status');
    }
  }
  // The job's own steps are its latest attempt's (a claim resets them): they tell the running one,
  // and an ended one recorded before steps were kept.
  const last = attempts[attempts.length - 1];
  if (last && (last.outcome === 'running' || last.steps.length === 0))
    attempts[attempts.length - 1] = { ...last, steps: currentSteps };
  return attempts;
}
