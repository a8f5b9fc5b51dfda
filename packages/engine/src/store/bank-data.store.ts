import { attemptHoldsLease, type AttemptFence } from '@jobtrail/domain';
import type { InstitutionAccount, InstitutionTransaction } from '../connectors/connector.js';
import { dateOrNull, placeholders, type Database, type SqlExecutor } from '../database/database.js';
import { systemClock, type Clock } from '../clock.js';
import { uuidv7 } from '../ids.js';

/** The attempt writing bank data no longer owns its job: nothing was written. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(readonly fence: AttemptFence) {
    super(`attempt ${fence.attempt} of job ${fence.jobId} no longer holds its lease`);
  }
}

const CHUNK = 200;

/**
 * Accounts and transactions fetched for connections: written by refresh, deleted by purge. Every
 * write is fenced on the attempt that makes it, in the same transaction: a worker that lost its
 * lease (paused past it, cut off) writes nothing, so it can never undo a later purge.
 */
export class BankDataStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Runs `write` in a transaction, after checking (and locking) that the attempt still owns its job. */
  private fenced<T>(fence: AttemptFence, write: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      const lock = this.db.kind === 'postgres' ? 'FOR UPDATE' : '';
      const [row] = await tx.query<{
        status: string;
        attempt: number | string;
        lease_owner: string | null;
        lease_expires_at: number | string | null;
      }>(`SELECT status, attempt, lease_owner, lease_expires_at FROM jobs WHERE id = $1 ${lock}`, [fence.jobId]);
      const held =
        row !== undefined &&
        attemptHoldsLease(
          {
            status: row.status as 'processing',
            attempt: Number(row.attempt),
            leaseOwner: row.lease_owner,
            leaseExpiresAt: dateOrNull(row.lease_expires_at),
          },
          fence,
          new Date(this.clock.now()),
        );
      if (!held) throw new LeaseLostError(fence);
      return write(tx);
    });
  }

  /** Upserts by the institution's ids: a second refresh updates rows instead of duplicating them. */
  async upsertAccounts(
    fence: AttemptFence,
    connectionId: string,
    accounts: readonly InstitutionAccount[],
  ): Promise<number> {
    if (accounts.length === 0) return 0;
    const now = this.clock.now();
    await this.fenced(fence, async (tx) => {
      for (let i = 0; i < accounts.length; i += CHUNK) {
        const chunk = accounts.slice(i, i + CHUNK);
        await tx.execute(
          `INSERT INTO accounts (id, connection_id, external_id, name, currency, balance_cents, updated_at)
           VALUES ${chunk.map((_, r) => `(${placeholders(7, 7 * r + 1)})`).join(', ')}
           ON CONFLICT (connection_id, external_id) DO UPDATE SET name = excluded.name, currency = excluded.currency,
             balance_cents = excluded.balance_cents, updated_at = excluded.updated_at`,
          chunk.flatMap((a) => [uuidv7(), connectionId, a.externalId, a.name, a.currency, a.balanceCents, now]),
        );
      }
    });
    return accounts.length;
  }

  async upsertTransactions(
    fence: AttemptFence,
    connectionId: string,
    transactions: readonly InstitutionTransaction[],
  ): Promise<number> {
    if (transactions.length === 0) return 0;
    await this.fenced(fence, async (tx) => {
      const accounts = await tx.query<{ id: string; external_id: string }>(
        'SELECT id, external_id FROM accounts WHERE connection_id = $1',
        [connectionId],
      );
      const accountIds = new Map(accounts.map((a) => [a.external_id, a.id]));
      for (let i = 0; i < transactions.length; i += CHUNK) {
        const chunk = transactions.slice(i, i + CHUNK).filter((t) => accountIds.has(t.accountExternalId));
        if (chunk.length === 0) continue;
        await tx.execute(
          `INSERT INTO transactions (id, connection_id, account_id, external_id, amount_cents, description, booked_at)
           VALUES ${chunk.map((_, r) => `(${placeholders(7, 7 * r + 1)})`).join(', ')}
           ON CONFLICT (connection_id, external_id) DO UPDATE SET amount_cents = excluded.amount_cents,
             description = excluded.description, booked_at = excluded.booked_at`,
          chunk.flatMap((t) => [
            uuidv7(),
            connectionId,
            accountIds.get(t.accountExternalId),
            t.externalId,
            t.amountCents,
            t.description,
            t.bookedAt.getTime(),
          ]),
        );
      }
    });
    return transactions.length;
  }

  async deleteTransactions(fence: AttemptFence, connectionId: string): Promise<number> {
    return this.fenced(fence, (tx) => tx.execute('DELETE FROM transactions WHERE connection_id = $1', [connectionId]));
  }

  async deleteAccounts(fence: AttemptFence, connectionId: string): Promise<number> {
    return this.fenced(fence, (tx) => tx.execute('DELETE FROM accounts WHERE connection_id = $1', [connectionId]));
  }
}
