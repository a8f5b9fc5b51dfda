import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  STEP_NAMES,
  isTerminal,
  jobError,
  transitionJob,
  type Job,
  type JobEvent,
  type JobStatus,
} from '../src/index.js';
import { T0, pendingJob } from './fixtures.js';

const errorArb = fc.constantFrom(
  jobError('invalid-credentials', 'x'),
  jobError('institution-unavailable', 'x'),
  jobError('worker-lost', 'x'),
  jobError('bank-said-no', 'an unknown institution code', true),
);

const eventArb: fc.Arbitrary<JobEvent> = fc.oneof(
  fc.record({
    type: fc.constant('claim' as const),
    workerId: fc.constantFrom('w1', 'w2'),
    leaseMs: fc.integer({ min: 1, max: 60_000 }),
    deadlineMs: fc.integer({ min: 1, max: 60_000 }),
  }),
  fc.record({
    type: fc.constant('heartbeat' as const),
    workerId: fc.constantFrom('w1', 'w2'),
    leaseMs: fc.integer({ min: 1, max: 60_000 }),
  }),
  fc.record({ type: fc.constant('step-started' as const), step: fc.constantFrom(...STEP_NAMES) }),
  fc.record({ type: fc.constant('step-succeeded' as const), step: fc.constantFrom(...STEP_NAMES) }),
  fc.record({ type: fc.constant('succeed' as const), result: fc.dictionary(fc.string(), fc.nat()) }),
  fc.record({ type: fc.constant('fail' as const), error: errorArb }),
  fc.record({
    type: fc.constant('requeue' as const),
    error: errorArb,
    runAt: fc.integer({ min: 0, max: 120_000 }).map((ms) => new Date(T0.getTime() + ms)),
  }),
  fc.constant({ type: 'request-cancel' as const }),
  fc.constant({ type: 'stop-cancelled' as const }),
  fc.constant({ type: 'deadline-passed' as const }),
  fc.record({ type: fc.constant('release' as const), error: errorArb }),
);

// Events arrive at increasing times so that run_at and deadlines are sometimes reached.
const scriptArb = fc.array(fc.tuple(eventArb, fc.integer({ min: 0, max: 30_000 })), { maxLength: 80 });

describe('state machine properties over random event sequences', () => {
  it('never leaves a terminal status, never reaches success without processing, keeps attempt within max_attempts', () => {
    fc.assert(
      fc.property(scriptArb, fc.integer({ min: 1, max: 5 }), (script, maxAttempts) => {
        let job: Job = pendingJob({ maxAttempts });
        let clock = T0.getTime();
        const seen: JobStatus[] = [job.status];
        for (const [event, dt] of script) {
          clock += dt;
          const res = transitionJob(job, event, { now: new Date(clock), actor: 'prop' });
          if (isTerminal(job.status)) {
            expect(res.ok).toBe(false);
            continue;
          }
          if (!res.ok) continue;
          if (res.job.status === 'success') expect(job.status).toBe('processing');
          if (res.transition) {
            expect(res.transition.from).toBe(job.status);
            expect(res.transition.to).toBe(res.job.status);
          } else {
            expect(res.job.status).toBe(job.status);
          }
          job = res.job;
          seen.push(job.status);
          expect(job.attempt).toBeGreaterThanOrEqual(0);
          expect(job.attempt).toBeLessThanOrEqual(job.maxAttempts);
          if (job.status === 'processing') expect(job.leaseOwner).not.toBeNull();
          if (isTerminal(job.status)) expect(job.finishedAt).not.toBeNull();
        }
        // Once terminal, the status stays put to the end of the run.
        const firstTerminal = seen.findIndex(isTerminal);
        if (firstTerminal >= 0) expect(new Set(seen.slice(firstTerminal)).size).toBe(1);
      }),
      { numRuns: 2_000 },
    );
  });
});
