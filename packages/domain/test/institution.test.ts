import { describe, expect, it } from '@jest/globals';
import {
  CIRCUIT_OPEN_AFTER,
  circuitAdmits,
  circuitAfterOutcome,
  circuitOutcomeOf,
  closedCircuit,
  institutionStatus,
  jobError,
  type InstitutionCircuit,
} from '../src/index.js';

const COOL = 60_000;

describe('institution circuit breaker', () => {
  it(`opens after ${CIRCUIT_OPEN_AFTER} consecutive outages; a success in between starts over`, () => {
    let c: InstitutionCircuit = closedCircuit('sandbox');
    for (let i = 1; i < CIRCUIT_OPEN_AFTER; i++) c = circuitAfterOutcome(c, 'outage', i);
    expect(c.state).toBe('closed');
    expect(circuitAfterOutcome(circuitAfterOutcome(c, 'success', 10), 'outage', 11).state).toBe('closed');
    expect(circuitAfterOutcome(c, null, 10)).toBe(c);
    c = circuitAfterOutcome(c, 'outage', 100);
    expect(c).toMatchObject({ state: 'open', openedAt: 100 });
  });

  it('holds jobs while open, lets one probe through after the cool-down, closes on its success, reopens on its outage', () => {
    const open: InstitutionCircuit = {
      ...closedCircuit('sandbox'),
      state: 'open',
      consecutiveFailures: 5,
      openedAt: 1_000,
    };
    expect(circuitAdmits(open, 2_000, COOL)).toEqual({ admit: 'hold', until: 61_000 });
    const probe = circuitAdmits(open, 61_000, COOL);
    expect(probe).toMatchObject({ admit: 'probe', circuit: { state: 'half-open', probeStartedAt: 61_000 } });
    const half = (probe as { circuit: InstitutionCircuit }).circuit;
    expect(circuitAdmits(half, 62_000, COOL)).toEqual({ admit: 'hold', until: 121_000 });
    expect(circuitAfterOutcome(half, 'success', 63_000)).toEqual(closedCircuit('sandbox'));
    expect(circuitAfterOutcome(half, 'outage', 63_000)).toMatchObject({ state: 'open', openedAt: 63_000 });
    // A probe that went missing is replaced after another cool-down.
    expect(circuitAdmits(half, 121_000, COOL).admit).toBe('probe');
    expect(circuitAdmits(closedCircuit('x'), 0, COOL)).toEqual({ admit: 'run' });
  });

  it('counts outages only: a wrong password or a cancel says nothing about the bank', () => {
    expect(circuitOutcomeOf({ status: 'success', error: null })).toBe('success');
    expect(circuitOutcomeOf({ status: 'pending', error: jobError('institution-unavailable', 'x') })).toBe('outage');
    expect(circuitOutcomeOf({ status: 'failed', error: jobError('maintenance', 'x') })).toBe('outage');
    expect(circuitOutcomeOf({ status: 'failed', error: jobError('invalid-credentials', 'x') })).toBeNull();
    expect(circuitOutcomeOf({ status: 'pending', error: jobError('worker-lost', 'x') })).toBeNull();
    expect(circuitOutcomeOf({ status: 'cancelled', error: jobError('cancelled', 'x') })).toBeNull();
  });

  it('status: down while the circuit is not closed, degraded under 80 % success, else operational', () => {
    expect(institutionStatus({ state: 'open' }, { succeeded: 10, finished: 10 })).toBe('down');
    expect(institutionStatus({ state: 'half-open' }, { succeeded: 0, finished: 0 })).toBe('down');
    expect(institutionStatus({ state: 'closed' }, { succeeded: 7, finished: 10 })).toBe('degraded');
    expect(institutionStatus({ state: 'closed' }, { succeeded: 8, finished: 10 })).toBe('operational');
    expect(institutionStatus({ state: 'closed' }, { succeeded: 0, finished: 0 })).toBe('operational');
  });
});
