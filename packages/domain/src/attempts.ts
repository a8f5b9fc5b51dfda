import { assertNever } from './assert-never.js';
import type { JobTransition } from './job.js';

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
}

/**
 * Every attempt of a job from its transitions, oldest first: a claim (`pending → processing`)
 * opens one, the next change out of `processing` closes it. Nothing else is stored per attempt, so
 * this is the one place that reads attempts out of the history.
 */
export function deriveAttempts(transitions: readonly JobTransition[]): JobAttempt[] {
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
      });
      continue;
    }
    const open = attempts[attempts.length - 1];
    if (t.from !== 'processing' || t.to === 'processing' || !open || open.outcome !== 'running') continue;
    const end = (outcome: AttemptOutcome, errorCode: string | null) =>
      (attempts[attempts.length - 1] = { ...open, finishedAt: t.at, outcome, errorCode });
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
      default:
        assertNever(t.to, 'job status');
    }
  }
  return attempts;
}
