import { SANDBOX_LOGINS as LOGINS } from '@jobtrail/domain';

/** The sandbox institution's test logins (defined in the domain package), offered as suggestions. */
export const SANDBOX_LOGINS: readonly { readonly login: string; readonly outcome: string }[] = Object.entries(
  LOGINS,
).map(([login, outcome]) => ({ login, outcome }));
