import { describe, expect, it } from '@jest/globals';
import {
  MFA_MAX_WRONG_CODES,
  allowedActions,
  cancelEvents,
  challengeAnswerEvent,
  challengeExpiredEvent,
  connectionStatusAfterRefresh,
  deriveAttempts,
  isParked,
  jobWebhookEvents,
  toJobSummaryWire,
  transitionJob,
  transitionJobOrThrow,
  type Job,
  type JobEvent,
  type JobTransition,
} from '../src/index.js';
import { T0, pendingJob } from './fixtures.js';

const W = 'worker-1';
const at = (ms: number) => new Date(T0.getTime() + ms);
const EXPIRES = 300_000;

/** Applies events in order, keeping the recorded transitions. */
function run(job: Job, steps: Array<[JobEvent, number]>): { job: Job; transitions: JobTransition[] } {
  const transitions: JobTransition[] = [];
  for (const [event, ms] of steps) {
    const res = transitionJobOrThrow(job, event, { now: at(ms), actor: W });
    job = res.job;
    if (res.transition) transitions.push(res.transition);
  }
  return { job, transitions };
}

const waitingSteps: Array<[JobEvent, number]> = [
  [{ type: 'claim', workerId: W, leaseMs: 30_000, deadlineMs: 60_000 }, 0],
  [{ type: 'step-started', step: 'verify-credentials' }, 10],
  [{ type: 'await-code', prompt: 'Enter the code sent to your phone', expiresAt: at(EXPIRES) }, 20],
];

describe('one-time-code challenge', () => {
  it('parks the job: processing, step action-required, a challenge, no lease and no deadline', () => {
    const { job, transitions } = run(pendingJob(), waitingSteps);
    expect(job.status).toBe('processing');
    expect(job.steps[0]?.status).toBe('action-required');
    expect(job.challenge).toEqual({
      type: 'one-time-code',
      prompt: 'Enter the code sent to your phone',
      expiresAt: at(EXPIRES),
      wrongCodes: 0,
    });
    expect([job.leaseOwner, job.leaseExpiresAt, job.deadlineAt]).toEqual([null, null, null]);
    expect(isParked(job)).toBe(true);
    // Recorded (so webhooks and live streams tell), without closing the attempt.
    expect(transitions.at(-1)).toMatchObject({ from: 'processing', to: 'processing', reason: 'mfa-required' });
    expect(deriveAttempts(transitions)).toHaveLength(1);
    expect(deriveAttempts(transitions)[0]?.outcome).toBe('running');
    expect(
      jobWebhookEvents(job, false, transitions.slice(-1)).map((e) => [e.type, e.body.data.previous_status]),
    ).toEqual([['job.updated', 'processing']]);
    expect(toJobSummaryWire(job).challenge).toEqual({
      type: 'one-time-code',
      prompt: 'Enter the code sent to your phone',
      expires_at: at(EXPIRES).toISOString(),
    });
    expect(allowedActions(job).answerChallenge).toBe(true);
  });

  it('the right code succeeds the step; a worker resumes the same attempt with a new lease', () => {
    const { job } = run(pendingJob(), waitingSteps);
    const answer = challengeAnswerEvent(job, true, at(1_000));
    expect(answer).toEqual({ type: 'code-accepted' });
    const answered = run(job, [[answer!, 1_000]]).job;
    expect(answered.challenge).toBeNull();
    expect(answered.steps[0]).toMatchObject({ status: 'success', finishedAt: at(1_000) });
    expect(isParked(answered)).toBe(true);
    const resumed = run(answered, [
      [{ type: 'resume', workerId: 'worker-2', leaseMs: 30_000, deadlineMs: 60_000 }, 2_000],
    ]);
    expect(resumed.transitions).toEqual([]);
    expect(resumed.job).toMatchObject({ attempt: 1, leaseOwner: 'worker-2', leaseExpiresAt: at(32_000) });
    // The next step runs; verify-credentials is not run again.
    expect(
      transitionJob(resumed.job, { type: 'step-started', step: 'retrieve-accounts' }, { now: at(2_100), actor: W }).ok,
    ).toBe(true);
  });

  it('a waiting job cannot be resumed before the code, and renewing a lease it has not is refused', () => {
    const { job } = run(pendingJob(), waitingSteps);
    expect(transitionJob(job, { type: 'resume', workerId: W, leaseMs: 1 }, { now: at(30), actor: W }).ok).toBe(false);
    expect(transitionJob(job, { type: 'heartbeat', workerId: W, leaseMs: 1 }, { now: at(30), actor: W }).ok).toBe(
      false,
    );
  });

  it(`${MFA_MAX_WRONG_CODES} wrong codes fail the job with mfa-failed, the earlier ones are counted`, () => {
    let { job } = run(pendingJob(), waitingSteps);
    for (let i = 1; i < MFA_MAX_WRONG_CODES; i++) {
      const event = challengeAnswerEvent(job, false, at(1_000 + i));
      expect(event).toEqual({ type: 'code-rejected' });
      job = run(job, [[event!, 1_000 + i]]).job;
      expect(job.challenge?.wrongCodes).toBe(i);
      expect(job.status).toBe('processing');
    }
    const last = challengeAnswerEvent(job, false, at(2_000));
    const failed = run(job, [[last!, 2_000]]);
    expect(failed.job.status).toBe('failed');
    expect(failed.job.error?.code).toBe('mfa-failed');
    expect(failed.job.challenge).toBeNull();
    expect(failed.job.steps[0]).toMatchObject({ status: 'failed', error: { code: 'mfa-failed' } });
    expect(failed.job.steps.slice(1).map((s) => s.status)).toEqual(['skipped', 'skipped']);
    expect(connectionStatusAfterRefresh(failed.job)).toBe('action-required');
  });

  it('an answer after expires_at, or the sweeper at it, fails the job with mfa-timeout', () => {
    const { job } = run(pendingJob(), waitingSteps);
    expect(challengeAnswerEvent(job, true, at(EXPIRES))).toEqual(challengeExpiredEvent(job));
    const expired = run(job, [[challengeExpiredEvent(job), EXPIRES]]).job;
    expect(expired.status).toBe('failed');
    expect(expired.error?.code).toBe('mfa-timeout');
    expect(transitionJob(job, { type: 'code-accepted' }, { now: at(EXPIRES), actor: W }).ok).toBe(false);
  });

  it('no challenge waiting: no answer event', () => {
    expect(challengeAnswerEvent(pendingJob(), true, at(0))).toBeNull();
    const { job } = run(pendingJob(), waitingSteps);
    const answered = run(job, [[{ type: 'code-accepted' }, 100]]).job;
    expect(challengeAnswerEvent(answered, true, at(200))).toBeNull();
  });

  it('a running job flagged for cancel does not ask: it stops instead', () => {
    const { job } = run(pendingJob(), waitingSteps.slice(0, 2));
    const flagged = run(job, [[{ type: 'request-cancel' }, 15]]).job;
    const res = transitionJob(flagged, waitingSteps[2]![0], { now: at(20), actor: W });
    expect(res.ok).toBe(false);
  });

  it('a cancel of a parked job ends it at once', () => {
    const { job } = run(pendingJob(), waitingSteps);
    const cancelled = run(
      job,
      cancelEvents(job).map((e) => [e, 100] as [JobEvent, number]),
    );
    expect(cancelled.job.status).toBe('cancelled');
    expect(cancelled.job.challenge).toBeNull();
    // A worker-held job is only flagged.
    const running = run(pendingJob(), waitingSteps.slice(0, 2)).job;
    expect(cancelEvents(running)).toEqual([{ type: 'request-cancel' }]);
  });
});
