import { assertNever } from './assert-never.js';
import type { Job } from './job.js';

/**
 * Institution health and its circuit breaker. A run of consecutive outage failures (the bank down,
 * in maintenance, not answering) opens the institution's circuit: its jobs are held pending (no
 * attempt used) and its scheduled refreshes deferred; after a cool-down one job goes through as a
 * probe (half-open); a success closes the circuit, another outage opens it again.
 */

/** How an institution is doing, as `GET /institutions` says. */
export const INSTITUTION_STATUSES = [
  /** Refreshes succeed. */
  'operational',
  /** Under 80 % of the last hour's refreshes succeeded, but the circuit is closed. */
  'degraded',
  /** The circuit is open (or probing): its jobs wait instead of failing. */
  'down',
] as const;
export type InstitutionStatus = (typeof INSTITUTION_STATUSES)[number];

/** The breaker's states. */
export const CIRCUIT_STATES = ['closed', 'open', 'half-open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** Consecutive outage failures (across tenants) that open an institution's circuit. */
export const CIRCUIT_OPEN_AFTER = 5;

/** Default cool-down before a probe goes through an open circuit. */
export const DEFAULT_CIRCUIT_COOLDOWN_MS = 60_000;

/** Below this share of successful refreshes in the last hour, a closed institution is `degraded`. */
export const DEGRADED_BELOW_SUCCESS_RATE = 0.8;

/** An institution's breaker, as stored. */
export interface InstitutionCircuit {
  readonly institutionId: string;
  readonly state: CircuitState;
  readonly consecutiveFailures: number;
  /** When it last opened (null: never, or closed since). */
  readonly openedAt: number | null;
  /** While half-open: when the probe was let through. */
  readonly probeStartedAt: number | null;
}

/** A closed circuit with no failure: what an institution starts with. */
export function closedCircuit(institutionId: string): InstitutionCircuit {
  return { institutionId, state: 'closed', consecutiveFailures: 0, openedAt: null, probeStartedAt: null };
}

/** Error codes that say the institution itself is failing (they count towards opening the circuit). */
export function isInstitutionOutage(code: string): boolean {
  return code === 'institution-unavailable' || code === 'maintenance' || code === 'institution-timeout';
}

/** What an ended attempt says about its institution: it answered, it is out, or nothing (a person's or our own doing). */
export type CircuitOutcome = 'success' | 'outage' | null;

/** The outcome of an attempt that just ended (the job as stored after it). */
export function circuitOutcomeOf(job: Pick<Job, 'status' | 'error'>): CircuitOutcome {
  switch (job.status) {
    case 'success':
      return 'success';
    case 'failed':
    case 'pending':
      return job.error !== null && isInstitutionOutage(job.error.code) ? 'outage' : null;
    case 'processing':
    case 'cancelled':
      return null;
    default:
      return assertNever(job.status, 'job status');
  }
}

/** The circuit after an attempt's outcome. */
export function circuitAfterOutcome(
  circuit: InstitutionCircuit,
  outcome: CircuitOutcome,
  now: number,
): InstitutionCircuit {
  if (outcome === null) return circuit;
  if (outcome === 'success') return closedCircuit(circuit.institutionId);
  const failures = circuit.consecutiveFailures + 1;
  // A failed probe, or the threshold reached: (re)open.
  if (circuit.state === 'half-open' || (circuit.state === 'closed' && failures >= CIRCUIT_OPEN_AFTER))
    return { ...circuit, state: 'open', consecutiveFailures: failures, openedAt: now, probeStartedAt: null };
  return { ...circuit, consecutiveFailures: failures };
}

/** Whether a due job of the institution may be claimed now. */
export type CircuitAdmission =
  | { readonly admit: 'run' }
  /** The cool-down is over: this job is the probe; the circuit becomes half-open. */
  | { readonly admit: 'probe'; readonly circuit: InstitutionCircuit }
  /** Held pending until then, its attempts untouched. */
  | { readonly admit: 'hold'; readonly until: number };

/** The breaker's rule for a due job. A probe that went missing (its worker lost) is replaced after a cool-down. */
export function circuitAdmits(circuit: InstitutionCircuit, now: number, cooldownMs: number): CircuitAdmission {
  switch (circuit.state) {
    case 'closed':
      return { admit: 'run' };
    case 'open': {
      const until = (circuit.openedAt ?? now) + cooldownMs;
      return now >= until
        ? { admit: 'probe', circuit: { ...circuit, state: 'half-open', probeStartedAt: now } }
        : { admit: 'hold', until };
    }
    case 'half-open': {
      const until = (circuit.probeStartedAt ?? now) + cooldownMs;
      return now >= until ? { admit: 'probe', circuit: { ...circuit, probeStartedAt: now } } : { admit: 'hold', until };
    }
    default:
      return assertNever(circuit.state, 'circuit state');
  }
}

/** True while the institution's scheduled refreshes are deferred (the circuit is not closed). */
export function circuitIsOpen(circuit: Pick<InstitutionCircuit, 'state'>): boolean {
  return circuit.state !== 'closed';
}

/** The status `GET /institutions` shows: down while the circuit is not closed, else from the last hour's refreshes. */
export function institutionStatus(
  circuit: Pick<InstitutionCircuit, 'state'>,
  lastHour: { readonly succeeded: number; readonly finished: number },
): InstitutionStatus {
  if (circuitIsOpen(circuit)) return 'down';
  if (lastHour.finished > 0 && lastHour.succeeded / lastHour.finished < DEGRADED_BELOW_SUCCESS_RATE) return 'degraded';
  return 'operational';
}

/** Display names of the institutions Jobtrail knows (an unknown id is its own name). */
export function institutionName(institutionId: string): string {
  return institutionId === 'sandbox' ? 'Sandbox bank' : institutionId;
}
