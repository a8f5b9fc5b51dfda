import { describe, expect, it } from '@jest/globals';
import {
  deriveAttempts,
  endsAttempt,
  toJobDetailWire,
  transitionJobOrThrow,
  type Job,
  type JobStep,
  type JobTransition,
} from '../src/index.js';
import { T0, pendingJob } from './fixtures.js';

const at = (s: number) => new Date(T0.getTime() + s * 1000);
const tr = (from: string, to: string, s: number, reason: string, attempt: number, actor = 'w1'): JobTransition =>
  ({ from, to, at: at(s), reason, actor, attempt }) as JobTransition;

describe('attempts', () => {
  const history = [
    tr('pending', 'processing', 1, 'claimed', 1, 'worker-a'),
    tr('processing', 'pending', 2, 'institution-unavailable', 1, 'worker-a'),
    tr('pending', 'processing', 5, 'claimed', 2, 'worker-b'),
    tr('processing', 'pending', 6, 'worker-lost', 2, 'sweeper'),
    tr('pending', 'processing', 9, 'claimed', 3, 'worker-c'),
    tr('processing', 'success', 12, 'completed', 3, 'worker-c'),
  ];

  it('reads each attempt out of the transitions: start, end, outcome, error code, worker', () => {
    expect(deriveAttempts(history)).toEqual([
      {
        attempt: 1,
        startedAt: at(1),
        finishedAt: at(2),
        outcome: 'requeued',
        errorCode: 'institution-unavailable',
        worker: 'worker-a',
        steps: [],
      },
      {
        attempt: 2,
        startedAt: at(5),
        finishedAt: at(6),
        outcome: 'requeued',
        errorCode: 'worker-lost',
        worker: 'worker-b',
        steps: [],
      },
      {
        attempt: 3,
        startedAt: at(9),
        finishedAt: at(12),
        outcome: 'success',
        errorCode: null,
        worker: 'worker-c',
        steps: [],
      },
    ]);
  });

  it('an attempt still running is open; a cancel before any claim is no attempt', () => {
    expect(deriveAttempts([tr('pending', 'cancelled', 1, 'cancelled', 0)])).toEqual([]);
    expect(deriveAttempts(history.slice(0, 3)).at(-1)).toMatchObject({
      attempt: 2,
      outcome: 'running',
      finishedAt: null,
    });
    expect(
      deriveAttempts([...history.slice(0, 3), tr('processing', 'failed', 7, 'invalid-credentials', 2)]).at(-1),
    ).toMatchObject({ outcome: 'failed', errorCode: 'invalid-credentials' });
  });

  it('the job detail carries them, with catalogue errors for earlier attempts and the steps of the latest', () => {
    const wire = toJobDetailWire({ ...pendingJob(), status: 'success' }, history);
    expect(wire.attempts.map((a) => [a.attempt, a.outcome, a.error?.code ?? null, a.steps.length])).toEqual([
      [1, 'requeued', 'institution-unavailable', 0],
      [2, 'requeued', 'worker-lost', 0],
      [3, 'success', null, 3],
    ]);
    expect(wire.attempts[0]!.error?.troubleshooting.length).toBeGreaterThan(0);
  });

  const step = (name: JobStep['name'], status: JobStep['status']): JobStep => ({
    name,
    status,
    startedAt: null,
    finishedAt: null,
    error: null,
  });

  it("each ended attempt keeps the steps its closing transition recorded; the latest takes the job's", () => {
    const first = [step('verify-credentials', 'failed'), step('retrieve-accounts', 'pending')];
    const second = [step('verify-credentials', 'success'), step('retrieve-accounts', 'failed')];
    const current = [step('verify-credentials', 'success'), step('retrieve-accounts', 'running')];
    const withSteps = [
      tr('pending', 'processing', 1, 'claimed', 1, 'worker-a'),
      { ...tr('processing', 'pending', 2, 'institution-unavailable', 1, 'worker-a'), steps: first },
      tr('pending', 'processing', 5, 'claimed', 2, 'worker-b'),
      { ...tr('processing', 'pending', 6, 'worker-lost', 2, 'sweeper'), steps: second },
      tr('pending', 'processing', 9, 'claimed', 3, 'worker-c'),
    ];
    expect(deriveAttempts(withSteps, current).map((a) => a.steps)).toEqual([first, second, current]);
  });

  it('an ended attempt recorded without steps has none, unless it is the latest (the job still holds its steps)', () => {
    const kept = [step('verify-credentials', 'success')];
    expect(deriveAttempts(history, kept).map((a) => a.steps)).toEqual([[], [], kept]);
    const ended = [step('verify-credentials', 'failed')];
    expect(
      deriveAttempts(
        [...history.slice(0, 3), { ...tr('processing', 'failed', 7, 'invalid-credentials', 2), steps: ended }],
        kept,
      ).map((a) => a.steps),
    ).toEqual([[], ended]);
  });

  it("the state machine records the attempt's final steps on every change out of processing, and only there", () => {
    expect(endsAttempt('processing', 'pending')).toBe(true);
    expect(endsAttempt('processing', 'processing')).toBe(false);
    expect(endsAttempt('pending', 'processing')).toBe(false);
    expect(endsAttempt('pending', 'cancelled')).toBe(false);
    const ctx = (s: number) => ({ now: at(s), actor: 'worker-a' });
    let job: Job = pendingJob();
    const claimed = transitionJobOrThrow(job, { type: 'claim', workerId: 'worker-a', leaseMs: 60_000 }, ctx(1));
    expect(claimed.transition?.steps).toBeUndefined();
    job = transitionJobOrThrow(claimed.job, { type: 'step-started', step: 'verify-credentials' }, ctx(2)).job;
    job = transitionJobOrThrow(job, { type: 'step-succeeded', step: 'verify-credentials' }, ctx(3)).job;
    const error = { code: 'institution-unavailable', title: 'Down', detail: 'down', retryable: true };
    const requeued = transitionJobOrThrow(job, { type: 'requeue', error, runAt: at(60) }, ctx(4));
    expect(requeued.transition?.to).toBe('pending');
    expect(requeued.transition?.steps).toEqual(requeued.job.steps);
    expect(requeued.transition?.steps?.[0]).toMatchObject({ name: 'verify-credentials', status: 'success' });
    // The next claim resets the job's steps; the first attempt's stay with its transition.
    const reclaimed = transitionJobOrThrow(
      requeued.job,
      { type: 'claim', workerId: 'worker-b', leaseMs: 60_000 },
      ctx(61),
    );
    expect(reclaimed.job.steps[0]?.status).toBe('pending');
    const attempts = deriveAttempts(
      [claimed.transition!, requeued.transition!, reclaimed.transition!],
      reclaimed.job.steps,
    );
    expect(attempts.map((a) => a.steps[0]?.status)).toEqual(['success', 'pending']);
  });
});
