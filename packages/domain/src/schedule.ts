import { assertNever } from './assert-never.js';
import type { ConnectionStatus } from './connection.js';
import type { RequestedBy } from './job.js';

/**
 * Scheduled refreshes: a connection with `refresh_every_hours` gets a refresh per slot, started by
 * whichever worker claims the slot first (the database makes it exactly one). These are the rules;
 * the engine's scheduler only stores their results.
 */

/** Who "requested" a scheduled refresh (the job's `requested_by`). */
export const SCHEDULE_REQUESTER: RequestedBy = { id: 'schedule', name: 'schedule' };

const HOUR_MS = 3_600_000;

/** Longest jitter added to a slot: a tenth of the period, at most 10 minutes. */
export function maxScheduleJitterMs(everyHours: number): number {
  return Math.min(Math.floor((everyHours * HOUR_MS) / 10), 10 * 60_000);
}

/**
 * The connection's own jitter, in [0, maxScheduleJitterMs): deterministic (FNV-1a of its id), so a
 * connection keeps its place in the hour while thousands created together do not refresh at once.
 */
export function scheduleJitterMs(connectionId: string, everyHours: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i++) {
    hash ^= connectionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const max = maxScheduleJitterMs(everyHours);
  return max === 0 ? 0 : hash % max;
}

/** The first slot of a schedule set (or changed) at `now`: one period later, plus the jitter. Null: no schedule. */
export function firstRefreshAt(everyHours: number | null, now: number, connectionId: string): number | null {
  if (everyHours === null) return null;
  return now + everyHours * HOUR_MS + scheduleJitterMs(connectionId, everyHours);
}

/**
 * The slot after the one being claimed. Slots keep their grid (`slot + period`); slots missed while
 * no worker ran collapse into the one claimed now (a single catch-up refresh, never a burst).
 */
export function nextRefreshSlot(slot: number, everyHours: number, now: number): number {
  const period = everyHours * HOUR_MS;
  if (slot + period > now) return slot + period;
  return slot + Math.ceil((now - slot + 1) / period) * period;
}

/** What the scheduler does with a due slot (it moves on to the next slot in every case). */
export type ScheduledRefreshDecision =
  /** Start a refresh, `requested_by` schedule. */
  | 'start'
  /** A refresh is already pending or processing: this slot is covered by it. */
  | 'skip-active'
  /** The last refresh failed for a reason only the user can fix: paused until the credentials change. */
  | 'paused'
  /** The institution is down (circuit open): deferred to the next slot instead of burning attempts. */
  | 'deferred';

/** Every decision, for tables and tests. */
export const SCHEDULED_REFRESH_DECISIONS = ['start', 'skip-active', 'paused', 'deferred'] as const;

/**
 * The scheduler's rule for one due slot: never a second active refresh; nothing while the
 * connection needs new credentials or the user's action at the bank (a non-retryable failure:
 * replacing the credentials makes it `pending` again, which resumes the schedule); nothing while
 * its institution's circuit is open.
 */
export function scheduledRefreshDecision(input: {
  readonly status: ConnectionStatus;
  readonly activeRefresh: boolean;
  readonly institutionDown?: boolean;
}): ScheduledRefreshDecision {
  if (input.activeRefresh) return 'skip-active';
  switch (input.status) {
    case 'invalid':
    case 'action-required':
      return 'paused';
    case 'pending':
    case 'active':
    case 'unavailable':
      return input.institutionDown === true ? 'deferred' : 'start';
    default:
      return assertNever(input.status, 'connection status');
  }
}
