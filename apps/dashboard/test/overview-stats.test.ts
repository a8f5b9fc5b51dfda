import { describe, expect, it } from '@jest/globals';
import { computeOverview, percent } from '../src/overview/overview-stats.js';
import { job, uuid } from './support/fixtures.js';

describe('computeOverview', () => {
  const now = Date.parse('2024-12-10T12:30:00Z');
  const at = (iso: string, status: 'success' | 'failed' | 'cancelled' | 'pending', n: number, ms = 1_000) =>
    job({
      job_id: uuid(n),
      status,
      date: iso,
      started_at: status === 'pending' ? null : iso,
      finished_at: status === 'pending' ? null : new Date(Date.parse(iso) + ms).toISOString(),
    });

  it('counts by status, buckets the failure rate per hour and ranks the slowest jobs', () => {
    const stats = computeOverview(
      [
        at('2024-12-10T12:10:00Z', 'failed', 1),
        at('2024-12-10T12:05:00Z', 'success', 2, 9_000),
        at('2024-12-10T12:01:00Z', 'success', 3),
        at('2024-12-10T12:00:00Z', 'cancelled', 4),
        at('2024-12-10T11:59:59Z', 'failed', 5, 20_000),
        at('2024-12-10T11:00:00Z', 'pending', 6),
        // Older than 24 hours: counted, but outside every bucket.
        at('2024-12-09T10:00:00Z', 'failed', 7),
      ],
      now,
      2,
    );
    expect(stats.counts).toEqual({ pending: 1, processing: 0, success: 2, failed: 3, cancelled: 1 });
    expect(stats.hours).toHaveLength(24);
    expect(stats.hours[23]).toMatchObject({ start: Date.parse('2024-12-10T12:00:00Z'), failed: 1, succeeded: 2 });
    expect(stats.hours[23]?.rate).toBeCloseTo(1 / 3);
    expect(stats.hours[22]).toMatchObject({ failed: 1, succeeded: 0, rate: 1 });
    expect(stats.hours[0]?.rate).toBeNull();
    expect(stats.failureRate).toBeCloseTo(3 / 5);
    expect(stats.slowest.map((j) => j.job_id)).toEqual([uuid(5), uuid(2)]);
    expect(percent(1 / 3)).toBe('33%');
    expect(percent(0.05)).toBe('5.0%');
    expect(percent(null)).toBe('—');
  });
});
