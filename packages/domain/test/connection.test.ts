import { describe, expect, it } from '@jest/globals';
import {
  CONNECTION_STATUSES,
  connectionStatusAfterCredentialsUpdate,
  connectionStatusAfterRefresh,
} from '../src/index.js';

const error = (code: string) => ({ code, title: code, detail: 'x', retryable: false, troubleshooting: [] });

describe('connection status', () => {
  it('follows the latest finished refresh', () => {
    expect(connectionStatusAfterRefresh({ action: 'refresh', status: 'success', error: null })).toBe('active');
    expect(
      connectionStatusAfterRefresh({ action: 'refresh', status: 'failed', error: error('invalid-credentials') }),
    ).toBe('invalid');
    expect(
      connectionStatusAfterRefresh({ action: 'refresh', status: 'failed', error: error('user-action-required') }),
    ).toBe('action-required');
    for (const code of ['institution-unavailable', 'maintenance', 'job-timed-out', 'bank-said-no'])
      expect(connectionStatusAfterRefresh({ action: 'refresh', status: 'failed', error: error(code) })).toBe(
        'unavailable',
      );
  });

  it('ignores unfinished and cancelled refreshes, and other actions', () => {
    for (const status of ['pending', 'processing', 'cancelled'] as const)
      expect(connectionStatusAfterRefresh({ action: 'refresh', status, error: null })).toBeNull();
    expect(connectionStatusAfterRefresh({ action: 'purge', status: 'success', error: null })).toBeNull();
  });

  it('new credentials make a connection that needed them pending again', () => {
    expect(CONNECTION_STATUSES.map(connectionStatusAfterCredentialsUpdate)).toEqual([
      'pending',
      'active',
      'pending',
      'pending',
      'unavailable',
    ]);
  });
});
