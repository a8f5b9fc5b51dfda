import { describe, expect, it } from '@jest/globals';
import {
  SCHEDULE_REQUESTER,
  firstRefreshAt,
  maxScheduleJitterMs,
  nextRefreshSlot,
  scheduleJitterMs,
  scheduledRefreshDecision,
} from '../src/index.js';

const H = 3_600_000;

describe('refresh schedules', () => {
  it('jitter is deterministic per connection, within a tenth of the period and at most 10 minutes', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `01a2296a-62c0-7002-a68f-${String(i).padStart(12, '0')}`);
    for (const id of ids) {
      const j = scheduleJitterMs(id, 24);
      expect(j).toBe(scheduleJitterMs(id, 24));
      expect(j).toBeGreaterThanOrEqual(0);
      expect(j).toBeLessThan(10 * 60_000);
      expect(scheduleJitterMs(id, 1)).toBeLessThan(6 * 60_000);
    }
    expect(maxScheduleJitterMs(1)).toBe(6 * 60_000);
    expect(maxScheduleJitterMs(24)).toBe(10 * 60_000);
    // Spread: connections created together do not all land on the same minute.
    expect(new Set(ids.map((id) => Math.floor(scheduleJitterMs(id, 24) / 60_000))).size).toBeGreaterThan(5);
  });

  it('the first slot is one period after the schedule was set, plus the jitter; none without a schedule', () => {
    expect(firstRefreshAt(null, 1_000, 'c')).toBeNull();
    expect(firstRefreshAt(6, 1_000, 'c')).toBe(1_000 + 6 * H + scheduleJitterMs('c', 6));
  });

  it('the next slot keeps the grid; missed slots collapse into one catch-up', () => {
    expect(nextRefreshSlot(10 * H, 6, 10 * H + 5)).toBe(16 * H);
    // Workers were down for three periods: one refresh now, the next slot in the future on the grid.
    expect(nextRefreshSlot(10 * H, 6, 29 * H)).toBe(34 * H);
    expect(nextRefreshSlot(10 * H, 6, 28 * H)).toBe(34 * H);
    expect(nextRefreshSlot(10 * H, 6, 28 * H - 1)).toBe(28 * H);
  });

  it('decides per slot: start, skip while a refresh is active, pause on needs-new-credentials, defer on a down institution', () => {
    expect(scheduledRefreshDecision({ status: 'active', activeRefresh: false })).toBe('start');
    expect(scheduledRefreshDecision({ status: 'unavailable', activeRefresh: false })).toBe('start');
    expect(scheduledRefreshDecision({ status: 'pending', activeRefresh: true })).toBe('skip-active');
    expect(scheduledRefreshDecision({ status: 'invalid', activeRefresh: false })).toBe('paused');
    expect(scheduledRefreshDecision({ status: 'action-required', activeRefresh: false })).toBe('paused');
    expect(scheduledRefreshDecision({ status: 'active', activeRefresh: false, institutionDown: true })).toBe(
      'deferred',
    );
    expect(SCHEDULE_REQUESTER).toEqual({ id: 'schedule', name: 'schedule' });
  });
});
