import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DEFAULT_BACKOFF, backoffDelayMs, nextRunAt } from '../src/index.js';
import { T0 } from './fixtures.js';

describe('backoff', () => {
  it('doubles per attempt, between half and the whole nominal delay', () => {
    expect(backoffDelayMs(1, { random: () => 0 })).toBe(1_000);
    expect(backoffDelayMs(1, { random: () => 0.999999 })).toBe(1_999);
    expect(backoffDelayMs(2, { random: () => 0 })).toBe(2_000);
    expect(backoffDelayMs(3, { random: () => 0 })).toBe(4_000);
  });

  it('is capped at maxMs', () => {
    expect(backoffDelayMs(40, { random: () => 0.999999 })).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
    expect(backoffDelayMs(40, { random: () => 0 })).toBe(DEFAULT_BACKOFF.maxMs / 2);
  });

  it('stays within [nominal/2, nominal) for any attempt and any random value, even a bad one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: -1, max: 2, noNaN: true }), (attempt, r) => {
        const nominal = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.baseMs * 2 ** (attempt - 1));
        const d = backoffDelayMs(attempt, { random: () => r });
        expect(d).toBeGreaterThanOrEqual(Math.floor(nominal / 2));
        expect(d).toBeLessThan(nominal);
      }),
    );
  });

  it('is monotonic in the attempt for a fixed random value', () => {
    for (let a = 1; a < 20; a++)
      expect(backoffDelayMs(a + 1, { random: () => 0.5 })).toBeGreaterThanOrEqual(
        backoffDelayMs(a, { random: () => 0.5 }),
      );
  });

  it('nextRunAt adds the delay to now', () => {
    expect(nextRunAt(2, T0, { random: () => 0, baseMs: 100 })).toEqual(new Date(T0.getTime() + 100));
  });
});
