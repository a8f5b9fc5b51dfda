import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RETENTION, JOB_STATUSES, isTerminal, jobExpiresAt, retentionDays } from '../src/index.js';
import { T0 } from './fixtures.js';

describe('retention', () => {
  it('keeps unfinished jobs forever and each terminal status for its own number of days', () => {
    for (const status of JOB_STATUSES)
      expect(retentionDays(status, DEFAULT_RETENTION) === null).toBe(!isTerminal(status));
    expect(jobExpiresAt({ status: 'failed', finishedAt: T0 }, DEFAULT_RETENTION)).toEqual(
      new Date(T0.getTime() + 365 * 86_400_000),
    );
    expect(
      jobExpiresAt({ status: 'success', finishedAt: T0 }, { successDays: 1, failedDays: 2, cancelledDays: 3 }),
    ).toEqual(new Date(T0.getTime() + 86_400_000));
    expect(jobExpiresAt({ status: 'processing', finishedAt: null }, DEFAULT_RETENTION)).toBeNull();
  });
});
