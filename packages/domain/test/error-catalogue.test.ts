import { describe, expect, it } from '@jest/globals';
import { ERROR_CATALOGUE, JOB_ERROR_CODES, describeError, jobError } from '../src/index.js';

describe('error catalogue', () => {
  it.each(JOB_ERROR_CODES)('%s has a title, a retry flag and troubleshooting steps', (code) => {
    const entry = ERROR_CATALOGUE[code];
    expect(entry.title.trim().length).toBeGreaterThan(3);
    expect(typeof entry.retryable).toBe('boolean');
    expect(entry.troubleshooting.length).toBeGreaterThan(0);
    for (const step of entry.troubleshooting) expect(step.trim().length).toBeGreaterThan(10);
  });

  it('lists every code of the specification with its retry rule', () => {
    const retryable = Object.fromEntries(JOB_ERROR_CODES.map((c) => [c, ERROR_CATALOGUE[c].retryable]));
    expect(retryable).toEqual({
      'invalid-credentials': false,
      'user-action-required': false,
      'institution-unavailable': true,
      maintenance: true,
      'institution-timeout': true,
      'job-timed-out': false,
      'worker-lost': true,
      cancelled: false,
      'mfa-failed': false,
      'mfa-timeout': false,
      'internal-error': false,
    });
    expect(Object.keys(ERROR_CATALOGUE).sort()).toEqual([...JOB_ERROR_CODES].sort());
  });

  it('keeps unknown codes as they came', () => {
    expect(describeError('BANK_E42')).toEqual({
      code: 'BANK_E42',
      known: false,
      title: 'BANK_E42',
      retryable: false,
      troubleshooting: [],
    });
    expect(jobError('BANK_E42', 'the bank said E42', true)).toEqual({
      code: 'BANK_E42',
      title: 'BANK_E42',
      detail: 'the bank said E42',
      retryable: true,
    });
  });

  it('takes title and retry flag of known codes from the catalogue, whatever the caller says', () => {
    expect(jobError('invalid-credentials', 'wrong password', true)).toEqual({
      code: 'invalid-credentials',
      title: 'Invalid credentials',
      detail: 'wrong password',
      retryable: false,
    });
    expect(describeError('maintenance').known).toBe(true);
  });
});

describe('roles', () => {
  it('each role can do what the roles below it can, and no more', async () => {
    const { roleAllows } = await import('../src/index.js');
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'operator')).toBe(false);
  });
});
