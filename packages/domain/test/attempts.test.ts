import { describe, expect, it } from '@jest/globals';
import { deriveAttempts, toJobDetailWire, type JobTransition } from '../src/index.js';
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
      },
      {
        attempt: 2,
        startedAt: at(5),
        finishedAt: at(6),
        outcome: 'requeued',
        errorCode: 'worker-lost',
        worker: 'worker-b',
      },
      { attempt: 3, startedAt: at(9), finishedAt: at(12), outcome: 'success', errorCode: null, worker: 'worker-c' },
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
});
