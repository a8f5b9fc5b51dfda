import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SANDBOX_LOGINS, SANDBOX_MFA_CODE, type SandboxLogin } from '@jobtrail/domain';
import {
  ChallengeRequired,
  ConnectorError,
  type Connector,
  type ConnectorContext,
  type InstitutionAccount,
  type InstitutionTransaction,
} from './connector.js';

export { SANDBOX_INSTITUTION_ID } from '@jobtrail/domain';

/** How many transactions each sandbox account has. */
export const SANDBOX_TRANSACTIONS_PER_ACCOUNT = 40;

/** A deterministic number in [0, 1) from a string, so the sandbox answers the same every time. */
function unit(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * The built-in sandbox institution: deterministic accounts and transactions, and logins that fail
 * in each catalogued way, so that every path can be seen end to end.
 */
export class SandboxConnector implements Connector {
  constructor(private readonly slowStepMs = 2_000) {}

  private async behave(ctx: ConnectorContext, step: string): Promise<void> {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    switch (ctx.loginId as SandboxLogin) {
      case 'user-slow':
        ctx.log(`${step}: the institution is slow today`);
        await sleep(this.slowStepMs, undefined, { signal: ctx.signal });
        return;
      case 'user-flaky':
        if (ctx.attempt <= 1)
          throw new ConnectorError(
            'institution-unavailable',
            'The sandbox institution answered HTTP 503 (first attempt of user-flaky).',
          );
        return;
      case 'user-down':
        throw new ConnectorError(
          'institution-unavailable',
          'The sandbox institution answered HTTP 503 (user-down is always down).',
        );
      default:
        return;
    }
  }

  async verifyCredentials(ctx: ConnectorContext): Promise<void> {
    await this.behave(ctx, 'verify-credentials');
    if (ctx.password.length === 0) throw new ConnectorError('invalid-credentials', 'The password is empty.');
    switch (ctx.loginId) {
      case 'user-bad-password':
        throw new ConnectorError('invalid-credentials', 'The sandbox institution rejected the login or password.');
      case 'user-action':
        throw new ConnectorError(
          'user-action-required',
          'The sandbox institution asks the user to accept new terms on its website.',
        );
      case 'user-mfa':
        // Asked on every attempt; an accepted code lets the job continue after this step.
        ctx.log('the institution asks for a one-time code');
        throw new ChallengeRequired('Enter the 6-digit code the sandbox bank sent to your phone.');
      default:
        if (!(ctx.loginId in SANDBOX_LOGINS))
          throw new ConnectorError(
            'invalid-credentials',
            `Unknown sandbox login; use one of: ${Object.keys(SANDBOX_LOGINS).join(', ')}.`,
          );
    }
    ctx.log('credentials accepted');
  }

  async verifyOneTimeCode(input: { readonly loginId: string; readonly code: string }): Promise<boolean> {
    return input.loginId === 'user-mfa' && input.code === SANDBOX_MFA_CODE;
  }

  async retrieveAccounts(ctx: ConnectorContext): Promise<InstitutionAccount[]> {
    await this.behave(ctx, 'retrieve-accounts');
    const names = ['Checking', 'Savings', 'Credit card'];
    return names.map((name, i) => ({
      externalId: `${ctx.loginId}-acc-${i + 1}`,
      name,
      currency: 'EUR',
      balanceCents: Math.round(unit(`${ctx.loginId}:${i}`) * 1_000_000) - (i === 2 ? 500_000 : 0),
    }));
  }

  async retrieveTransactions(
    ctx: ConnectorContext,
    accounts: readonly InstitutionAccount[],
  ): Promise<InstitutionTransaction[]> {
    await this.behave(ctx, 'retrieve-transactions');
    const base = Date.UTC(2024, 0, 1);
    return accounts.flatMap((acc) =>
      Array.from({ length: SANDBOX_TRANSACTIONS_PER_ACCOUNT }, (_, n) => {
        const r = unit(`${acc.externalId}:${n}`);
        return {
          externalId: `${acc.externalId}-tx-${n + 1}`,
          accountExternalId: acc.externalId,
          amountCents: Math.round((r - 0.6) * 20_000),
          description:
            ['Groceries', 'Salary', 'Rent', 'Coffee', 'Train ticket', 'Refund'][Math.floor(r * 6)] ?? 'Payment',
          bookedAt: new Date(base + n * 86_400_000),
        };
      }),
    );
  }
}
