import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { WEBHOOK_CLAIM_MARGIN_MS, webhookClaimLapsesAt, webhookClaimRoom } from '../src/index.js';

describe('webhook claims', () => {
  it('a claim lapses the margin after the attempt’s timeout', () => {
    expect(webhookClaimLapsesAt(1_000, 10_000)).toBe(11_000 + WEBHOOK_CLAIM_MARGIN_MS);
  });

  it('the room left is the endpoint cap less what every dispatcher has in flight, within free slots', () => {
    expect(webhookClaimRoom(4, 0, 32)).toBe(4);
    expect(webhookClaimRoom(4, 3, 32)).toBe(1);
    expect(webhookClaimRoom(4, 4, 32)).toBe(0);
    expect(webhookClaimRoom(4, 1, 2)).toBe(2);
    // More in flight than the cap (the cap was lowered meanwhile): nothing, never negative.
    expect(webhookClaimRoom(2, 5, 32)).toBe(0);
    fc.assert(
      fc.property(fc.nat(64), fc.nat(64), fc.nat(64), (cap, inFlight, free) => {
        const room = webhookClaimRoom(cap, inFlight, free);
        return room >= 0 && room <= free && inFlight + room <= Math.max(cap, inFlight);
      }),
    );
  });
});
