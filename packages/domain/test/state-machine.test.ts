import { describe, expect, it } from '@jest/globals';
import {
  JOB_EVENT_TYPES,
  JOB_STATUSES,
  JOB_TRANSITIONS,
  TransitionError,
  allowedActions,
  eventForError,
  isTerminal,
  jobError,
  retryJob,
  transitionJob,
  transitionJobOrThrow,
  freshSteps,
  type Job,
  type JobEvent,
  type JobEventType,
  type JobStatus,
} from '../src/index.js';
import { T0, pendingJob } from './fixtures.js';

const W = 'worker-1';
const at = (ms: number) => new Date(T0.getTime() + ms);
const ctx = (ms = 0, actor = W) => ({ now: at(ms), actor });
const apply = (job: Job, event: JobEvent, ms = 0) => transitionJobOrThrow(job, event, ctx(ms)).job;

const claimed = (job = pendingJob()) => apply(job, { type: 'claim', workerId: W, leaseMs: 30_000, deadlineMs: 60_000 });
const allStepsDone = (job: Job) =>
  job.steps.reduce(
    (j, s) => apply(apply(j, { type: 'step-started', step: s.name }), { type: 'step-succeeded', step: s.name }),
    job,
  );

/** A job in `status`, prepared so that `type` passes its guard wherever the table allows the pair. */
function jobIn(status: JobStatus, type: JobEventType): Job {
  switch (status) {
    case 'pending':
      return pendingJob();
    case 'processing': {
      const job = claimed();
      if (type === 'step-succeeded') return apply(job, { type: 'step-started', step: 'verify-credentials' });
      if (type === 'succeed') return allStepsDone(job);
      if (type === 'stop-cancelled') return apply(job, { type: 'request-cancel' });
      if (type === 'await-code') return apply(job, { type: 'step-started', step: 'verify-credentials' });
      if (type === 'code-accepted' || type === 'code-rejected') return waiting(job);
      if (type === 'resume') return apply(waiting(job), { type: 'code-accepted' });
      return job;
    }
    case 'success':
      return apply(allStepsDone(claimed()), { type: 'succeed', result: { accounts: 3 } });
    case 'failed':
      return apply(claimed(), { type: 'fail', error: jobError('invalid-credentials', 'wrong password') });
    case 'cancelled':
      return apply(pendingJob(), { type: 'request-cancel' });
  }
}

function eventOf(type: JobEventType, job: Job): JobEvent {
  switch (type) {
    case 'claim':
      return { type, workerId: W, leaseMs: 30_000 };
    case 'heartbeat':
      return { type, workerId: W, leaseMs: 30_000 };
    case 'step-started':
      return { type, step: 'verify-credentials' };
    case 'step-succeeded':
      return { type, step: job.steps.find((s) => s.status === 'running')?.name ?? 'verify-credentials' };
    case 'succeed':
      return { type, result: { accounts: 3, transactions: 412 } };
    case 'fail':
      return { type, error: jobError('invalid-credentials', 'wrong password') };
    case 'requeue':
      return { type, error: jobError('institution-unavailable', 'HTTP 503'), runAt: at(10_000) };
    case 'request-cancel':
    case 'stop-cancelled':
      return { type };
    case 'deadline-passed':
      return { type };
    case 'release':
      return { type, error: jobError('worker-lost', 'shutting down') };
    case 'await-code':
      return { type, prompt: 'Enter the code', expiresAt: at(300_000) };
    case 'code-accepted':
    case 'code-rejected':
      return { type };
    case 'resume':
      return { type, workerId: W, leaseMs: 30_000 };
    case 'hold':
      return { type, runAt: at(60_000) };
  }
}

/** A claimed job whose verify-credentials step asked for a one-time code. */
function waiting(job: Job): Job {
  const started = apply(job, { type: 'step-started', step: 'verify-credentials' });
  return apply(started, { type: 'await-code', prompt: 'Enter the code', expiresAt: at(300_000) });
}

describe('transition table: every (status, event) pair', () => {
  const cases = JOB_STATUSES.flatMap((status) => JOB_EVENT_TYPES.map((type) => [status, type] as const));

  it.each(cases)('%s + %s', (status, type) => {
    const job = jobIn(status, type);
    expect(job.status).toBe(status);
    // deadline-passed needs the clock past the deadline set at claim time.
    const res = transitionJob(job, eventOf(type, job), ctx(type === 'deadline-passed' ? 61_000 : 1_000));
    const expected = JOB_TRANSITIONS[status][type];
    if (expected === undefined) {
      expect(res.ok).toBe(false);
      if (res.ok) return;
      expect(res.error).toBeInstanceOf(TransitionError);
      expect(res.error.refusal).toBe('illegal-transition');
      expect(res.error.from).toBe(status);
      expect(res.error.event).toBe(type);
      expect(res.error.message).toContain(type);
    } else {
      expect(res.ok).toBe(true);
      if (!res.ok) return;
      expect(res.job.status).toBe(expected);
    }
  });

  it('terminal statuses accept nothing', () => {
    for (const status of JOB_STATUSES.filter(isTerminal)) expect(JOB_TRANSITIONS[status]).toEqual({});
  });

  it('documents exactly the transitions of the specification', () => {
    const pairs = new Set(
      JOB_STATUSES.flatMap((from) =>
        Object.values(JOB_TRANSITIONS[from])
          .filter((to) => to !== from)
          .map((to) => `${from}->${to}`),
      ),
    );
    expect([...pairs].sort()).toEqual(
      [
        'pending->processing',
        'pending->cancelled',
        'processing->success',
        'processing->failed',
        'processing->pending',
        'processing->cancelled',
      ].sort(),
    );
  });
});

describe('transitions in detail', () => {
  it('claim: attempt + 1, lease, deadline, started_at, recorded transition', () => {
    const res = transitionJob(
      pendingJob(),
      { type: 'claim', workerId: W, leaseMs: 30_000, deadlineMs: 60_000 },
      ctx(5),
    );
    if (!res.ok) throw res.error;
    expect(res.job).toMatchObject({ status: 'processing', attempt: 1, leaseOwner: W, startedAt: at(5) });
    expect(res.job.leaseExpiresAt).toEqual(at(30_005));
    expect(res.job.deadlineAt).toEqual(at(60_005));
    expect(res.transition).toEqual({
      from: 'pending',
      to: 'processing',
      at: at(5),
      reason: 'claimed',
      actor: W,
      attempt: 1,
    });
  });

  it('claim: every step of the action fresh, without reading the job’s own (a stored job parses them on first read)', () => {
    const retried = { ...pendingJob(), attempt: 1 };
    const unread = Object.defineProperty({ ...retried }, 'steps', {
      get: () => {
        throw new Error('a claim read the steps');
      },
    }) as Job;
    const res = transitionJob(unread, { type: 'claim', workerId: W, leaseMs: 30_000 }, ctx(5));
    if (!res.ok) throw res.error;
    expect(res.job.steps).toEqual(freshSteps('refresh'));
    expect(res.job.attempt).toBe(2);
    // One frozen array per action, shared by every claim: what is stored from it is computed once.
    expect(res.job.steps).toBe(freshSteps('refresh'));
    expect(Object.isFrozen(res.job.steps) && res.job.steps.every((s) => Object.isFrozen(s))).toBe(true);
  });

  it('claim is refused before run_at and when no attempt is left', () => {
    const notDue = transitionJob(pendingJob({ runAt: at(1_000) }), { type: 'claim', workerId: W, leaseMs: 1 }, ctx(0));
    expect(!notDue.ok && notDue.error.refusal).toBe('guard-failed');
    expect(!notDue.ok && notDue.error.rule).toMatch(/not due/);
    const spent = transitionJob(
      pendingJob({ attempt: 3, maxAttempts: 3 }),
      { type: 'claim', workerId: W, leaseMs: 1 },
      ctx(0),
    );
    expect(!spent.ok && spent.error.rule).toBe('no attempt left');
  });

  it('steps run in order, one at a time', () => {
    const job = claimed();
    const outOfOrder = transitionJob(job, { type: 'step-started', step: 'retrieve-accounts' }, ctx());
    expect(!outOfOrder.ok && outOfOrder.error.rule).toMatch(/next is verify-credentials/);
    const running = apply(job, { type: 'step-started', step: 'verify-credentials' });
    expect(running.steps[0]).toMatchObject({ status: 'running', startedAt: at(0) });
    const twice = transitionJob(running, { type: 'step-started', step: 'retrieve-accounts' }, ctx());
    expect(!twice.ok && twice.error.rule).toBe('another step is running');
    const notRunning = transitionJob(running, { type: 'step-succeeded', step: 'retrieve-accounts' }, ctx());
    expect(notRunning.ok).toBe(false);
  });

  it('success needs every step done; its result is kept and the lease released', () => {
    const early = transitionJob(claimed(), { type: 'succeed', result: {} }, ctx());
    expect(!early.ok && early.error.rule).toBe('every step must have succeeded');
    const done = apply(allStepsDone(claimed()), { type: 'succeed', result: { accounts: 3, transactions: 412 } }, 100);
    expect(done).toMatchObject({ status: 'success', finishedAt: at(100), leaseOwner: null, leaseExpiresAt: null });
    expect(done.result).toEqual({ accounts: 3, transactions: 412 });
  });

  it('a failing step is marked failed and the steps not reached are skipped', () => {
    const running = apply(claimed(), { type: 'step-started', step: 'verify-credentials' });
    const failed = apply(running, { type: 'fail', error: jobError('invalid-credentials', 'bad password') }, 7);
    expect(failed.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(failed.steps[0]?.error?.code).toBe('invalid-credentials');
    expect(failed.error).toMatchObject({ code: 'invalid-credentials', retryable: false, title: 'Invalid credentials' });
  });

  it('fail is refused for a retryable error while attempts are left; requeue for a non-retryable one', () => {
    const job = claimed();
    const fail = transitionJob(job, { type: 'fail', error: jobError('institution-unavailable', '503') }, ctx());
    expect(!fail.ok && fail.error.rule).toMatch(/requeues/);
    const requeue = transitionJob(
      job,
      { type: 'requeue', error: jobError('invalid-credentials', 'x'), runAt: at(1) },
      ctx(),
    );
    expect(!requeue.ok && requeue.error.rule).toBe('only retryable errors requeue');
  });

  it('requeue goes back to pending with run_at and keeps the attempt count', () => {
    const job = apply(
      claimed(),
      { type: 'requeue', error: jobError('worker-lost', 'lease expired'), runAt: at(4_000) },
      10,
    );
    expect(job).toMatchObject({ status: 'pending', attempt: 1, runAt: at(4_000), leaseOwner: null });
    const again = apply(job, { type: 'claim', workerId: 'w2', leaseMs: 1_000 }, 4_000);
    expect(again).toMatchObject({ status: 'processing', attempt: 2, leaseOwner: 'w2', error: null });
    expect(again.steps.every((s) => s.status === 'pending')).toBe(true);
  });

  it('heartbeat renews the lease of its owner only, and records no transition', () => {
    const job = claimed();
    const res = transitionJob(job, { type: 'heartbeat', workerId: W, leaseMs: 30_000 }, ctx(20_000));
    if (!res.ok) throw res.error;
    expect(res.job.leaseExpiresAt).toEqual(at(50_000));
    expect(res.transition).toBeNull();
    const other = transitionJob(job, { type: 'heartbeat', workerId: 'intruder', leaseMs: 30_000 }, ctx());
    expect(!other.ok && other.error.rule).toMatch(/lease owner/);
  });

  it('cancel: a pending job ends at once; a processing job is flagged, then stops at a step boundary', () => {
    const cancelled = transitionJob(pendingJob(), { type: 'request-cancel' }, ctx(3, 'key-1'));
    if (!cancelled.ok) throw cancelled.error;
    expect(cancelled.job).toMatchObject({ status: 'cancelled', finishedAt: at(3) });
    expect(cancelled.job.error?.code).toBe('cancelled');
    expect(cancelled.transition).toMatchObject({
      from: 'pending',
      to: 'cancelled',
      actor: 'key-1',
      reason: 'cancelled',
    });

    const flagged = transitionJob(claimed(), { type: 'request-cancel' }, ctx(3, 'key-1'));
    if (!flagged.ok) throw flagged.error;
    expect(flagged.job).toMatchObject({ status: 'processing', cancelRequestedAt: at(3) });
    expect(flagged.transition).toBeNull();
    expect(transitionJob(flagged.job, { type: 'request-cancel' }, ctx()).ok).toBe(false);
    const stopped = apply(flagged.job, { type: 'stop-cancelled' }, 9);
    expect(stopped).toMatchObject({ status: 'cancelled', finishedAt: at(9), leaseOwner: null });

    const unrequested = transitionJob(claimed(), { type: 'stop-cancelled' }, ctx());
    expect(!unrequested.ok && unrequested.error.rule).toBe('no cancel was requested');
  });

  it('deadline: refused before it passes, fails with job-timed-out after', () => {
    const job = claimed();
    expect(transitionJob(job, { type: 'deadline-passed' }, ctx(59_999)).ok).toBe(false);
    const timedOut = apply(job, { type: 'deadline-passed' }, 60_000);
    expect(timedOut.status).toBe('failed');
    expect(timedOut.error?.code).toBe('job-timed-out');
  });

  it('never modifies the job it is given', () => {
    const job = Object.freeze(claimed());
    const copy = structuredClone(job);
    apply(job, { type: 'step-started', step: 'verify-credentials' });
    expect(job).toEqual(copy);
  });
});

describe('eventForError', () => {
  const unavailable = jobError('institution-unavailable', '503');
  it('requeues retryable errors with attempts left, with backoff', () => {
    const ev = eventForError(claimed(), unavailable, at(0), { random: () => 0 });
    expect(ev).toEqual({ type: 'requeue', error: unavailable, runAt: at(1_000) });
  });
  it('fails non-retryable errors and exhausted jobs', () => {
    expect(eventForError(claimed(), jobError('user-action-required', 'x'), at(0)).type).toBe('fail');
    expect(eventForError({ ...claimed(), attempt: 3 }, unavailable, at(0)).type).toBe('fail');
  });
  it('stops a job whose cancel was requested instead of requeueing it', () => {
    const flagged = apply(claimed(), { type: 'request-cancel' });
    expect(eventForError(flagged, unavailable, at(0))).toEqual({ type: 'stop-cancelled' });
  });
});

describe('allowedActions and manual retry', () => {
  it.each([
    ['pending', { retry: false, cancel: true, answerChallenge: false }],
    ['processing', { retry: false, cancel: true, answerChallenge: false }],
    ['success', { retry: false, cancel: false, answerChallenge: false }],
    ['failed', { retry: true, cancel: false, answerChallenge: false }],
    ['cancelled', { retry: true, cancel: false, answerChallenge: false }],
  ] as const)('%s', (status, expected) => {
    expect(allowedActions({ status, cancelRequestedAt: null })).toEqual(expected);
  });

  it('a processing job whose cancel is already requested cannot be cancelled again', () => {
    expect(allowedActions({ status: 'processing', cancelRequestedAt: T0 }).cancel).toBe(false);
  });

  it('retry makes a new pending job linked to the old one, which is left as it was', () => {
    const failed = jobIn('failed', 'fail');
    const res = retryJob(failed, {
      id: 'b7c9e667-7425-40de-944b-e07fc1f90ae7',
      now: at(99),
      requestedBy: { id: 'k', name: 'ops' },
      credentialsUpdatedAt: at(99),
    });
    if (!res.ok) throw res.error;
    expect(res.job).toMatchObject({
      status: 'pending',
      attempt: 0,
      retryOf: failed.id,
      action: 'refresh',
      createdAt: at(99),
    });
    expect(res.job.requestedBy).toEqual({ id: 'k', name: 'ops' });
    expect(failed.status).toBe('failed');
  });

  it('retry of an invalid-credentials failure waits for new credentials', () => {
    const failed = jobIn('failed', 'fail');
    expect(failed.error?.code).toBe('invalid-credentials');
    // The attempt that was rejected started (and read the credentials) at startedAt.
    const triedAt = failed.startedAt!.getTime() - T0.getTime();
    for (const credentialsUpdatedAt of [null, at(triedAt - 1), at(triedAt)]) {
      const res = retryJob(failed, { id: 'x', now: at(99), credentialsUpdatedAt });
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error.refusal).toBe('credentials-update-required');
    }
    // Replaced while the attempt ran: it was the old credentials that were rejected.
    expect(retryJob(failed, { id: 'x', now: at(99), credentialsUpdatedAt: at(triedAt + 1) }).ok).toBe(true);
    // Other failures need no new credentials.
    const timedOut = { ...failed, error: { ...failed.error!, code: 'institution-unavailable' } };
    expect(retryJob(timedOut, { id: 'x', now: at(99), credentialsUpdatedAt: null }).ok).toBe(true);
  });

  it('retry of a successful job is refused, naming the rule', () => {
    const res = retryJob(jobIn('success', 'succeed'), { id: 'x', now: at(0), credentialsUpdatedAt: null });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.error.event).toBe('retry');
    expect(res.error.message).toMatch(/only failed or cancelled jobs can be retried/);
  });
});

describe('a release at shutdown', () => {
  it('gives the job back at once without using up an attempt: three deploys never fail a job', () => {
    let job = pendingJob();
    for (let deploy = 1; deploy <= 3; deploy++) {
      job = apply(job, { type: 'claim', workerId: W, leaseMs: 30_000 });
      job = apply(job, { type: 'release', error: jobError('worker-lost', 'the worker shut down') });
      expect(job).toMatchObject({ status: 'pending', attempt: deploy, maxAttempts: 3 + deploy, leaseOwner: null });
    }
    job = apply(job, { type: 'claim', workerId: W, leaseMs: 30_000 });
    expect(job.status).toBe('processing');
  });

  it('stops a job whose cancel was requested instead of releasing it', () => {
    const job = apply(apply(pendingJob(), { type: 'claim', workerId: W, leaseMs: 30_000 }), { type: 'request-cancel' });
    expect(transitionJob(job, { type: 'release', error: jobError('worker-lost', 'x') }, ctx(1_000)).ok).toBe(false);
  });
});
