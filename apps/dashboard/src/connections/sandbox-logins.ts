/** The sandbox institution's test logins (SPEC "Execution engine"), offered as suggestions. */
export const SANDBOX_LOGINS: readonly { readonly login: string; readonly outcome: string }[] = [
  { login: 'user-ok', outcome: 'succeeds: 3 accounts and their transactions' },
  { login: 'user-bad-password', outcome: 'fails: invalid credentials' },
  { login: 'user-action', outcome: 'fails: user action required' },
  { login: 'user-flaky', outcome: 'unavailable once, then succeeds' },
  { login: 'user-down', outcome: 'unavailable until attempts run out' },
  { login: 'user-slow', outcome: 'succeeds, about 2 s per step' },
];
