/** The built-in sandbox institution's id. */
export const SANDBOX_INSTITUTION_ID = 'sandbox';

/**
 * The sandbox's test logins and what each one does (any non-empty password is accepted). The
 * API's sandbox connector behaves as described here; the dashboard offers them as suggestions.
 */
export const SANDBOX_LOGINS = {
  'user-ok': 'succeeds: 3 accounts and their transactions',
  'user-bad-password': 'fails at verify-credentials: invalid credentials, not retried',
  'user-action': 'fails: user action required, not retried',
  'user-flaky': 'institution unavailable on the first attempt, succeeds on the next',
  'user-down': 'institution unavailable on every attempt, until attempts run out',
  'user-slow': 'succeeds, each step taking about 2 s',
  'user-mfa': 'asks for a one-time code at verify-credentials (123456 is right), then succeeds',
} as const;

/** A sandbox test login; see {@link SANDBOX_LOGINS}. */
export type SandboxLogin = keyof typeof SANDBOX_LOGINS;

/** The one-time code the sandbox accepts for `user-mfa`. */
export const SANDBOX_MFA_CODE = '123456';
