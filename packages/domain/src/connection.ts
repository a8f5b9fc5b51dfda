import { assertNever } from './assert-never.js';
import type { Job } from './job.js';

/**
 * What a connection's jobs say about it, from its latest finished refresh:
 * - `pending`: no refresh has finished yet (or new credentials wait for the refresh that verifies them);
 * - `active`: the last refresh succeeded;
 * - `invalid`: the bank rejected the credentials; new ones are needed;
 * - `action-required`: the user must act at the bank (accept terms, clear a prompt);
 * - `unavailable`: the institution failed the last refresh (outage, maintenance, timeout...).
 */
export const CONNECTION_STATUSES = ['pending', 'active', 'invalid', 'action-required', 'unavailable'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** True for a string that is a connection status. */
export function isConnectionStatus(value: unknown): value is ConnectionStatus {
  return typeof value === 'string' && (CONNECTION_STATUSES as readonly string[]).includes(value);
}

/**
 * The connection's status once this refresh ended, or null when the job says nothing about the
 * connection (not a refresh, not finished, or cancelled: a cancel is a person's choice, not the
 * bank's answer).
 */
export function connectionStatusAfterRefresh(job: Pick<Job, 'action' | 'status' | 'error'>): ConnectionStatus | null {
  if (job.action !== 'refresh') return null;
  switch (job.status) {
    case 'pending':
    case 'processing':
    case 'cancelled':
      return null;
    case 'success':
      return 'active';
    case 'failed':
      switch (job.error?.code) {
        case 'invalid-credentials':
          return 'invalid';
        case 'user-action-required':
        case 'mfa-failed':
        case 'mfa-timeout':
          // The bank asked the user for a one-time code and did not get a right one in time.
          return 'action-required';
        default:
          // Outages, maintenance, timeouts, a lost worker or an unknown code from the bank: the
          // credentials were not shown wrong, the institution (or the way to it) failed.
          return 'unavailable';
      }
    default:
      return assertNever(job.status, 'job status');
  }
}

/**
 * The status after the credentials were replaced: a connection waiting for new credentials (or
 * for the user to act at the bank) is `pending` again until the refresh that verifies them ends.
 */
export function connectionStatusAfterCredentialsUpdate(current: ConnectionStatus): ConnectionStatus {
  switch (current) {
    case 'invalid':
    case 'action-required':
      return 'pending';
    case 'pending':
    case 'active':
    case 'unavailable':
      return current;
    default:
      return assertNever(current, 'connection status');
  }
}
